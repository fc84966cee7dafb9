import { assertNever } from '#shared/contracts';
import type { ProductEvent } from './product.events.js';

/** A product that has been registered; what other aggregates (pair) need to know about it. */
export type RegisteredProduct = {
  readonly status: 'registered';
  readonly serial: string;
  readonly model: string;
  readonly firmwareVersion: string;
  readonly accountId: string;
  readonly registeredAt: string;
};

/** The state of one product stream, folded from its events. */
export type ProductState = { readonly status: 'unregistered' } | RegisteredProduct;

export const initialState: ProductState = { status: 'unregistered' };

export function evolve(state: ProductState, event: ProductEvent): ProductState {
  switch (event.type) {
    case 'ProductRegistered': {
      const { serial, model, firmwareVersion, accountId, registeredAt } = event.data;
      return { status: 'registered', serial, model, firmwareVersion, accountId, registeredAt };
    }
    case 'ProductFirmwareChanged':
      // decide never emits this before ProductRegistered; ignoring it keeps evolve total over bad history.
      if (state.status !== 'registered') return state;
      return { ...state, firmwareVersion: event.data.firmwareVersion };
    default:
      return assertNever(event, 'product event');
  }
}
