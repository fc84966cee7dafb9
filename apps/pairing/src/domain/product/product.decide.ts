import { FIRMWARE_VERSION_PATTERN, SERIAL_PATTERN, decideByType, findModel, type Decider } from '#shared/contracts';
import type { ChangeFirmware, ProductCommand, RegisterProduct } from './product.commands.js';
import {
  invalidFirmwareVersion,
  invalidSerial,
  productAlreadyRegistered,
  productNotFound,
  unknownModel,
} from './product.errors.js';
import type { ProductEvent } from './product.events.js';
import { evolve, initialState, type ProductState } from './product.state.js';

/** Turns a product command into events, or throws the RuleViolation of the rule it breaks. */
export const decide = decideByType<ProductCommand, ProductEvent, ProductState>('product command', {
  RegisterProduct: registerProduct,
  ChangeFirmware: changeFirmware,
});

function registerProduct({ data, metadata }: RegisterProduct, state: ProductState): ProductEvent[] {
  // A malformed command is invalid whatever the stream holds, so shape checks come before state checks.
  if (!SERIAL_PATTERN.test(data.serial)) throw invalidSerial(data.serial);
  if (!findModel(data.model)) throw unknownModel(data.model);
  if (!FIRMWARE_VERSION_PATTERN.test(data.firmwareVersion)) throw invalidFirmwareVersion(data.firmwareVersion);
  if (state.status === 'registered') throw productAlreadyRegistered(data.serial);
  return [
    {
      type: 'ProductRegistered',
      data: {
        serial: data.serial,
        model: data.model,
        firmwareVersion: data.firmwareVersion,
        accountId: data.accountId,
        registeredAt: metadata.now.toISOString(),
      },
    },
  ];
}

function changeFirmware({ data, metadata }: ChangeFirmware, state: ProductState): ProductEvent[] {
  if (!SERIAL_PATTERN.test(data.serial)) throw invalidSerial(data.serial);
  if (!FIRMWARE_VERSION_PATTERN.test(data.firmwareVersion)) throw invalidFirmwareVersion(data.firmwareVersion);
  if (state.status === 'unregistered') throw productNotFound(data.serial);
  // Devices report their firmware repeatedly; an unchanged version is not news, so a retry is a no-op.
  if (state.firmwareVersion === data.firmwareVersion) return [];
  return [
    {
      type: 'ProductFirmwareChanged',
      data: {
        serial: state.serial,
        model: state.model,
        accountId: state.accountId,
        previousFirmwareVersion: state.firmwareVersion,
        firmwareVersion: data.firmwareVersion,
        changedAt: metadata.now.toISOString(),
      },
    },
  ];
}

/** The product aggregate (stream `product-<serial>`) as a decider. */
export const productDecider: Decider<ProductCommand, ProductEvent, ProductState> = {
  initialState,
  decide,
  evolve,
};
