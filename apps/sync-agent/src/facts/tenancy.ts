import { canAccess, seesEveryAccount, type EventStore, type Principal, type Tx } from '#shared';

/*
 * Tenant isolation for the sync agent's queries: it already projects every product with its account (from
 * pairing's events, which carry it), so an account-scoped key is checked against that table, and another
 * account's product or pair answers exactly like an unknown one (the caller throws its own 404).
 */

async function accountOfProducts(tx: Tx, serials: readonly string[]): Promise<string | null> {
  const rows: { account_id: string }[] = await tx.query('SELECT account_id FROM products WHERE serial = ANY($1) LIMIT 1', [
    serials,
  ]);
  return rows[0]?.account_id ?? null;
}

/** Whether the caller may see the product (operators and auditors: always; others: a known product of their account). */
export async function productVisibleTo(store: EventStore, caller: Principal, serial: string): Promise<boolean> {
  if (seesEveryAccount(caller)) return true;
  const accountId = await store.transaction((tx) => accountOfProducts(tx, [serial]));
  return accountId !== null && canAccess(caller, accountId);
}

/** Whether the caller may see the pair (both units are of one account; whichever the agent knows tells it). */
export async function pairVisibleTo(store: EventStore, caller: Principal, pairId: string): Promise<boolean> {
  if (seesEveryAccount(caller)) return true;
  const accountId = await store.transaction(async (tx) => {
    const rows: { primary_serial: string; secondary_serial: string }[] = await tx.query(
      'SELECT primary_serial, secondary_serial FROM pairs WHERE pair_id = $1',
      [pairId],
    );
    return rows[0] ? accountOfProducts(tx, [rows[0].primary_serial, rows[0].secondary_serial]) : null;
  });
  return accountId !== null && canAccess(caller, accountId);
}
