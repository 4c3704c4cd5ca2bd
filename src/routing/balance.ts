import type { Balance } from './config-file.js';
import type { Deployment } from './deployment.js';

/**
 * The order in which one group's deployments are tried. Every member is in it, so when the first
 * choice is skipped or fails the call moves on within the group before the next group.
 */

/** Weighted random order without replacement: the first place goes by weight, then the next. */
function weightedOrder(group: readonly Deployment[], random: () => number): Deployment[] {
  const left = [...group];
  const order: Deployment[] = [];
  let total = left.reduce((sum, d) => sum + d.weight, 0);
  while (left.length > 1) {
    let point = random() * total;
    let index = 0;
    for (; index < left.length - 1; index++) {
      point -= (left[index] as Deployment).weight;
      if (point < 0) break;
    }
    const [chosen] = left.splice(index, 1) as [Deployment];
    order.push(chosen);
    total -= chosen.weight;
  }
  order.push(...left);
  return order;
}

export function orderGroup(
  group: readonly Deployment[],
  balance: Balance,
  random: () => number,
): Deployment[] {
  if (group.length === 1) return group as Deployment[];
  const order = weightedOrder(group, random);
  if (balance === 'weighted') return order;
  // Fewest calls in flight per unit of weight first; equals keep their weighted-random order, so
  // idle deployments share the load by weight instead of the first one taking it all.
  return order.sort((a, b) => a.outstanding / a.weight - b.outstanding / b.weight);
}
