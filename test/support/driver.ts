/**
 * The end-to-end driver: the stories tests tell over HTTP (register, associate, pair, grant), each asserting the
 * answer a successful step gets, so a test file says only what is particular to it.
 */
import { expect } from '@jest/globals';
import { TEST_OPERATOR_KEY, api, randomSerial, type Json, type RunningSystem } from './system.js';

/** What POST /products takes. */
export interface ProductInput {
  readonly serial: string;
  readonly model: string;
  readonly firmwareVersion: string;
  readonly accountId: string;
}

/** A product of `accountId` with a random serial (an NSA 2700 on 7.0.1 unless `overrides` say otherwise). */
export function productInput(accountId: string, overrides: Partial<ProductInput> = {}): ProductInput {
  return { serial: randomSerial(), model: 'NSA 2700', firmwareVersion: '7.0.1', accountId, ...overrides };
}

/** The user stories over HTTP, each asserting the answer a successful step gets. */
export interface Driver {
  /** POST /products (201) of productInput(accountId, overrides); resolves with what was registered. */
  readonly registerProduct: (overrides?: Partial<ProductInput>) => Promise<ProductInput>;
  /** registerProduct, resolving with the serial. */
  readonly register: (overrides?: Partial<ProductInput>) => Promise<string>;
  /** POST /pairs (201); resolves with the pair id. */
  readonly associate: (primarySerial: string, secondarySerial: string) => Promise<string>;
  /** Two products registered and associated. */
  readonly pair: (overrides?: Partial<ProductInput>) => Promise<{ pairId: string; primary: string; secondary: string }>;
  /** POST /products/:serial/licenses (201 with that SKU); resolves with the license. */
  readonly grant: (serial: string, sku: string, extra?: Record<string, unknown>) => Promise<Json>;
}

/**
 * A driver of the system `systemOf` returns (read at each step, so a test file can make its driver before
 * beforeAll starts the system), as an operator of `accountId`, with the test operator key unless another is given.
 */
export function driver(
  systemOf: () => Pick<RunningSystem, 'pairing' | 'licensing'>,
  accountId: string,
  apiKey: string | null = TEST_OPERATOR_KEY,
): Driver {
  const registerProduct = async (overrides: Partial<ProductInput> = {}) => {
    const input = productInput(accountId, overrides);
    const response = await api(systemOf().pairing, apiKey).post('/products', input);
    expect({ status: response.status, body: response.body }).toEqual({ status: 201, body: expect.anything() });
    return input;
  };
  const register = async (overrides: Partial<ProductInput> = {}) => (await registerProduct(overrides)).serial;
  const associate = async (primarySerial: string, secondarySerial: string) => {
    const response = await api(systemOf().pairing, apiKey).post('/pairs', { primarySerial, secondarySerial });
    expect({ status: response.status, body: response.body }).toEqual({
      status: 201,
      body: expect.objectContaining({ pairId: expect.any(String) }),
    });
    return response.body.pairId as string;
  };
  return {
    registerProduct,
    register,
    associate,
    pair: async (overrides = {}) => {
      const primary = await register(overrides);
      const secondary = await register(overrides);
      return { pairId: await associate(primary, secondary), primary, secondary };
    },
    grant: async (serial, sku, extra = {}) => {
      const response = await api(systemOf().licensing, apiKey).post(`/products/${serial}/licenses`, { sku, ...extra });
      expect({ status: response.status, body: response.body }).toEqual({ status: 201, body: expect.objectContaining({ sku }) });
      return response.body;
    },
  };
}
