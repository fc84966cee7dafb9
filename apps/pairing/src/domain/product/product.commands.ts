import type { CommandMetadata } from '#shared/contracts';
/** What every product command carries besides its data: the clock reading the handler took. */
export type ProductCommandMetadata = CommandMetadata;

/** Register a product to an account. */
export type RegisterProduct = {
  readonly type: 'RegisterProduct';
  readonly data: {
    readonly serial: string;
    readonly model: string;
    readonly firmwareVersion: string;
    readonly accountId: string;
  };
  readonly metadata: ProductCommandMetadata;
};

/** Record that a registered product now runs another firmware version. */
export type ChangeFirmware = {
  readonly type: 'ChangeFirmware';
  readonly data: {
    readonly serial: string;
    readonly firmwareVersion: string;
  };
  readonly metadata: ProductCommandMetadata;
};

/** The commands of one product stream (`product-<serial>`). */
export type ProductCommand = RegisterProduct | ChangeFirmware;
