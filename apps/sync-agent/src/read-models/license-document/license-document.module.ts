import { Logger, Module } from '@nestjs/common';
import { ConfigurationError, SERVICE_CONFIG, type ServiceConfig } from '#shared';
import { LicenseDocumentController, LicenseSigningKeysController } from './license-document.controller.js';
import { LicenseSigningKeyRing, loadLicenseSigningKeyRing } from './license-signing-keys.js';

/**
 * Signed license documents: GET /products/:serial/license-document and GET /.well-known/license-signing-keys.
 * The keys are read once at start (see license-signing-keys.ts); a bad key configuration stops the service
 * before it listens, like any other bad variable (exit 78).
 */
@Module({
  controllers: [LicenseDocumentController, LicenseSigningKeysController],
  providers: [
    {
      provide: LicenseSigningKeyRing,
      inject: [SERVICE_CONFIG],
      useFactory: (config: ServiceConfig): LicenseSigningKeyRing => keyRingOrExit(config.service),
    },
  ],
})
export class LicenseDocumentModule {}

function keyRingOrExit(service: string): LicenseSigningKeyRing {
  try {
    const { ring, warnings } = loadLicenseSigningKeyRing(process.env, process.cwd());
    const logger = new Logger('LicenseDocuments');
    for (const warning of warnings) logger.warn(warning);
    logger.log(`signing license documents with key "${ring.activeKid}"; publishing ${ring.keys.map((k) => k.kid).join(', ')}`);
    return ring;
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    console.error(`${service}: ${error.message}`);
    process.exit(78);
  }
}
