/**
 * A Map that holds at most `capacity` entries: setting a key makes it the newest, and setting one more than the
 * capacity drops the entry set longest ago. For caches whose memory must stay bounded however many keys pass through.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(readonly capacity: number) {
    super();
  }

  override set(key: K, value: V): this {
    this.delete(key);
    super.set(key, value);
    if (this.size > this.capacity) this.delete(this.keys().next().value!);
    return this;
  }
}
