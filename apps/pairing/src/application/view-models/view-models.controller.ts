import { Controller, Get } from '@nestjs/common';
import { Allow, MODEL_CATALOG, READERS, type ApplianceModel } from '#shared';

/** GET /models: the appliance models products can be registered as, and whether each supports stateful sync. */
@Controller('models')
export class ViewModelsController {
  @Get()
  @Allow(...READERS)
  models(): readonly ApplianceModel[] {
    return MODEL_CATALOG;
  }
}
