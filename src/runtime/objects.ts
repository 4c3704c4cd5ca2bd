/**
 * `{ ...base, ...extra }`, made without V8's slow path for it. On Node 20 (V8 11.3) an object made
 * by spreading another first (`{ ...base, key: value }`, or `{ ...base }` given a property
 * afterwards) gets a hidden class of its own every time: 1–4 µs per object, a map allocated in the
 * old generation, and every inline cache that later reads the object turned megamorphic. On the
 * request path that was most of what the young-generation collections promoted. Object.assign
 * onto a fresh literal keeps one shape. `test/runtime/objects.test.ts` keeps the pattern out of src/.
 */
export function extended<Base extends object, Extra extends object>(
  base: Base | undefined,
  extra: Extra | undefined,
): Spread<Base, Extra> {
  // Object.assign sets keys where a spread defines them: a `__proto__` key (JSON.parse makes one
  // from a client's body) would set the copy's prototype. Such an object takes the spread's way.
  if (
    (base !== undefined && Object.hasOwn(base, '__proto__')) ||
    (extra !== undefined && Object.hasOwn(extra, '__proto__'))
  ) {
    return { ...base, ...extra } as Spread<Base, Extra>;
  }
  return Object.assign({}, base, extra) as Spread<Base, Extra>;
}

/** The keys `T` may leave out. */
type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T];

/** What TypeScript types `{ ...A, ...B }` as: an optional key of B keeps A's value when left out. */
type Spread<A, B> = Omit<A, keyof B> &
  Omit<B, OptionalKeys<B>> & {
    [K in OptionalKeys<B> & keyof A]: A[K] | Exclude<B[K], undefined>;
  } & {
    [K in Exclude<OptionalKeys<B>, keyof A>]?: B[K];
  };
