import { Controller, Get } from '@nestjs/common';
import { LICENSE_CATALOG, type LicenseSku } from '#shared';

/** GET /catalog: the SKUs that can be granted, and whether a Secondary shares each. */
@Controller('catalog')
export class ViewCatalogController {
  @Get()
  catalog(): readonly LicenseSku[] {
    return LICENSE_CATALOG;
  }
}
