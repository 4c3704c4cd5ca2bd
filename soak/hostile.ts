/**
 * The hostile client's loops: each picks a move at random (a limit evasion over HTTP, SSE, WebSocket
 * or REST, an expensive prompt, a large or foreign WebSocket frame, a read of another client's
 * stored completions), sends it as the hostile client, and records how it ended. Prompts carry a
 * marker so that the stub upstream's count of calls can be traced back to the move that caused them.
 */
import { soak } from './config.js';
import {
  type Category,
  expensiveGraphql,
  expensiveRest,
  type GraphQLAttack,
  graphqlAttacks,
  paddedInit,
  restAttacks,
} from './hostile-attacks.js';
import {
  foreignOrigin,
  frameBeforeInit,
  type HttpTarget,
  type Judged,
  overHttp,
  overRest,
  overWebSocket,
} from './hostile-transports.js';
import type { StoredIds } from './keys.js';

export type MoveCategory = Category | 'large frame' | 'foreign read';

interface Move {
  category: MoveCategory;
  attack: string;
  transport: string;
  weight: number;
  /** Whether its prompts carry a marker, and whether any upstream call it causes counts against it. */
  marked: boolean;
  run(marker: string): Promise<Judged>;
}

export interface HostileContext extends HttpTarget {
  stored: StoredIds;
}

/** Share of the moves by category; spread evenly over each category's attacks and transports. */
const shares: Record<MoveCategory, number> = {
  'limit evasion': 0.6,
  'foreign read': 0.22,
  'expensive prompt': 0.1,
  'large frame': 0.08,
};

const entitiesQuery =
  'query ($r: [_Any!]!) { _entities(representations: $r) { ... on CreateCompletionResponse { id choices { text } } } }';
const readQuery = 'query ($id: ID!) { completion(id: $id) { id choices { text } } }';

function moves(ctx: HostileContext): Move[] {
  const graphql = (attack: GraphQLAttack): Omit<Move, 'weight'>[] =>
    attack.transports.map((transport) => ({
      category: attack.category,
      attack: attack.name,
      transport,
      marked: true,
      run: (marker) => {
        const body = attack.build(marker);
        if (transport === 'ws') {
          if (Array.isArray(body)) throw new Error(`${attack.name}: a batch cannot go over WebSocket`);
          return overWebSocket(ctx.origin, ctx.authorization, body);
        }
        return overHttp(ctx, body, transport === 'sse');
      },
    }));
  const hugeFrame = paddedInit(20 * 1024 * 1024, ctx.authorization);
  const largeFrame = paddedInit(64 * 1024, ctx.authorization);
  const list: Omit<Move, 'weight'>[] = [
    ...[...graphqlAttacks, ...expensiveGraphql].flatMap(graphql),
    ...[...restAttacks, ...expensiveRest].map((attack) => ({
      category: attack.category,
      attack: attack.name,
      transport: 'rest',
      marked: true,
      run: (marker: string) => overRest(ctx, attack.build(marker)),
    })),
    frameMove('20 MiB frame before connection_init', () => frameBeforeInit(ctx.origin, hugeFrame)),
    frameMove('64 KiB frame before connection_init', () => frameBeforeInit(ctx.origin, largeFrame)),
    frameMove('upgrade with a foreign Origin', () => foreignOrigin(ctx.origin)),
    readMove(ctx, 'completion(id) of another client', 1, ([id]) =>
      overHttp(ctx, { query: readQuery, variables: { id } }, false, true),
    ),
    readMove(ctx, '_entities of 10 ids of other clients', 10, (ids) =>
      overHttp(
        ctx,
        {
          query: entitiesQuery,
          variables: { r: ids.map((id) => ({ __typename: 'CreateCompletionResponse', id })) },
        },
        false,
        true,
      ),
    ),
  ];
  const perCategory = new Map<MoveCategory, number>();
  for (const move of list) perCategory.set(move.category, (perCategory.get(move.category) ?? 0) + 1);
  return list.map((move) => ({
    ...move,
    weight: shares[move.category] / (perCategory.get(move.category) ?? 1),
  }));
}

function readMove(
  ctx: HostileContext,
  attack: string,
  count: number,
  read: (ids: string[]) => Promise<Judged>,
): Omit<Move, 'weight'> {
  return {
    category: 'foreign read',
    attack,
    transport: 'http',
    marked: false,
    run: async () => {
      const ids = ctx.stored.sample(count);
      if (ids.length === 0) return { verdict: 'refused', codes: ['no honest id stored yet'], records: 0 };
      return { ...(await read(ids)), reads: ids.length };
    },
  };
}

function frameMove(attack: string, run: () => Promise<Judged>): Omit<Move, 'weight'> {
  return { category: 'large frame', attack, transport: 'ws', marked: false, run };
}

export interface HostileOutcome extends Judged {
  category: MoveCategory;
  attack: string;
  transport: string;
  latencyMs: number;
  marker?: number;
  /** Whether an upstream call with its marker counts against the service (see `hostile-report.ts`). */
  callsCount: boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `soak.hostileClients` loops until `keepGoing` says stop. */
export async function runHostile(
  ctx: HostileContext,
  keepGoing: () => boolean,
  record: (outcome: HostileOutcome) => void,
): Promise<void> {
  const all = moves(ctx);
  const total = all.reduce((sum, move) => sum + move.weight, 0);
  let nextMarker = 1;
  const pick = () => {
    let roll = Math.random() * total;
    for (const move of all) {
      roll -= move.weight;
      if (roll < 0) return move;
    }
    return all[all.length - 1] as Move;
  };
  const loop = async () => {
    while (keepGoing()) {
      const move = pick();
      const marker = nextMarker++;
      const started = performance.now();
      let judged: Judged;
      try {
        judged = await move.run(`HOSTILE-${marker}`);
      } catch (error) {
        const network = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        judged = { verdict: 'failed', codes: ['network error'], detail: network.slice(0, 300) };
      }
      // Expensive prompts may run (priced by their bytes); only a refused one's call is a leak.
      const callsCount = move.category !== 'expensive prompt' || judged.verdict !== 'answered';
      record({
        ...judged,
        category: move.category,
        attack: move.attack,
        transport: move.transport,
        latencyMs: performance.now() - started,
        callsCount,
        ...(move.marked ? { marker } : {}),
      });
      await sleep(soak.hostilePauseMs);
    }
  };
  await Promise.all(Array.from({ length: soak.hostileClients }, loop));
}
