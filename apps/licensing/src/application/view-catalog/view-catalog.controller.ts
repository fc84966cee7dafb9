import { Controller, Get } from '@nestjs/common';
import { Allow, LICENSE_CATALOG, READERS, type LicenseSku } from '#shared';

/** GET /catalog: the SKUs that can be granted, and whether a Secondary shares each. */
@Controller('catalog')
export class ViewCatalogController {
  @Get()
  @Allow(...READERS)
  catalog(): readonly LicenseSku[] {
    return LICENSE_CATALOG;
  }
}
