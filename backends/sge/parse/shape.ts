/**
 * A job's parallel shape in Grid Engine's terms: slots in a parallel environment, a GPU
 * consumable, an exclusive-host complex; or the reason the configuration cannot express it.
 *
 * Grid Engine counts slots, not nodes or ranks: a job of `processes × coresPerProcess` slots asks
 * for them with `-pe <pe> <slots>`, and the parallel environment's `allocation_rule` decides how
 * they spread over hosts. `$pe_slots` keeps them on one host (the usual `smp`), an integer N puts
 * exactly N on each host, `$fill_up` and `$round_robin` spread them as they come. So:
 * - a job on one node (or whose nodes are not fixed) uses the application's parallel environment
 *   (`pe.<applicationName>`, else `defaultPe`), which should be a `$pe_slots` one;
 * - a job on `nodes > 1` needs a parallel environment whose `allocation_rule` is its slots per
 *   node (`processesPerNode × coresPerProcess`), configured in `multiNodePe` by that number
 *   (`multiNodePe: { "8": "mpi8" }`): Grid Engine then gives exactly `nodes` hosts. A `$fill_up`
 *   or `$round_robin` environment cannot promise a node count, so it is not used for one.
 * - GPUs are a consumable complex (`gpuResource`, e.g. `gpu`); a consumable marked `YES` is
 *   requested per slot (`gpuPerSlot`, the default), one marked `JOB` per job.
 * - `exclusive` needs a boolean complex with relation `EXCL` (`exclusiveResource`, e.g.
 *   `exclusive`), requested as `-l exclusive=true`.
 *
 * @since 0.1.0
 * @module
 */
import * as Either from "effect/Either"
import type { Shape } from "../../../src/Application.ts"

/**
 * What the configuration offers for parallel jobs.
 *
 * @since 0.1.0
 * @category models
 */
export interface ShapeSettings {
  /** The application's parallel environment for one node (`pe.<name>`, else `defaultPe`). */
  readonly pe: string | undefined
  /** The application's name, for the `pe.<name>` setting a refusal names. */
  readonly applicationName: string
  /** Parallel environments by slots per node (their `allocation_rule`), for jobs on several nodes. */
  readonly multiNodePe: Readonly<Record<string, string>>
  /** The GPU consumable complex, if the cell has one. */
  readonly gpuResource?: string | undefined
  /** Whether the GPU consumable is requested per slot (`consumable YES`) or per job (`JOB`). */
  readonly gpuPerSlot: boolean
  /** The exclusive-host boolean complex, if the cell has one. */
  readonly exclusiveResource?: string | undefined
}

/**
 * A shape in `qsub`'s terms.
 *
 * @since 0.1.0
 * @category models
 */
export interface ShapePlan {
  /** Slots: processes × cores per process. */
  readonly slots: number
  /** The parallel environment (set when `slots > 1`). */
  readonly pe?: string | undefined
  /** The GPU request, as `-l <resource>=<count>`. */
  readonly gpus?: { readonly resource: string; readonly count: number } | undefined
  /** The exclusive complex, requested as `-l <name>=true`. */
  readonly exclusive?: string | undefined
}

/** The parallel environment for the shape, or why there is none. */
const peOf = (
  shape: Shape,
  slots: number,
  s: ShapeSettings,
): Either.Either<string | undefined, string> => {
  if ((shape.nodes ?? 1) > 1) {
    const perNode = (shape.processesPerNode ?? 1) * shape.coresPerProcess
    const pe = s.multiNodePe[String(perNode)]
    return pe !== undefined ? Either.right(pe) : Either.left(
      `nodes: ${shape.nodes} nodes of ${perNode} slot(s) each need a parallel environment whose ` +
        `allocation_rule is ${perNode}: set multiNodePe.${perNode} in the resource's configuration`,
    )
  }
  if (slots <= 1) return Either.right(undefined)
  return s.pe !== undefined ? Either.right(s.pe) : Either.left(
    `requestedCores: ${slots} cores need a parallel environment: set defaultPe (or ` +
      `pe.${s.applicationName}) in the resource's configuration`,
  )
}

/** The GPU request for the shape, or why it cannot be made. */
const gpusOf = (
  shape: Shape,
  slots: number,
  s: ShapeSettings,
): Either.Either<ShapePlan["gpus"], string> => {
  const total = shape.processes * shape.gpusPerProcess
  if (total === 0) return Either.right(undefined)
  if (s.gpuResource === undefined) {
    return Either.left(
      `gpusPerProcess: ${total} GPU(s) need the cell's GPU consumable: set gpuResource in the ` +
        `resource's configuration`,
    )
  }
  if (!s.gpuPerSlot) return Either.right({ resource: s.gpuResource, count: total })
  return total % slots === 0
    ? Either.right({ resource: s.gpuResource, count: total / slots })
    : Either.left(
      `gpusPerProcess: ${s.gpuResource} is requested per slot, and ${total} GPU(s) do not ` +
        `split evenly over ${slots} slots (set gpuPerSlot: false if the complex is consumable JOB)`,
    )
}

/** The exclusive complex, when the shape asks for whole nodes, or why there is none. */
const exclusiveOf = (shape: Shape, s: ShapeSettings): Either.Either<string | undefined, string> =>
  !shape.exclusive
    ? Either.right(undefined)
    : s.exclusiveResource !== undefined
    ? Either.right(s.exclusiveResource)
    : Either.left(
      "exclusive: whole nodes need the cell's exclusive-host complex (a BOOL complex with " +
        "relation EXCL): set exclusiveResource in the resource's configuration",
    )

/**
 * The shape in `qsub`'s terms, or the reason the configuration cannot express it, naming the
 * field and the setting (pure).
 *
 * @since 0.1.0
 * @category constructors
 */
export const planShape = (shape: Shape, settings: ShapeSettings): ShapePlan | string => {
  const slots = shape.processes * shape.coresPerProcess
  const plan = Either.all({
    pe: peOf(shape, slots, settings),
    gpus: gpusOf(shape, slots, settings),
    exclusive: exclusiveOf(shape, settings),
  })
  return Either.match(plan, {
    onLeft: (problem) => problem,
    onRight: (parts): ShapePlan => ({ slots, ...parts }),
  })
}
