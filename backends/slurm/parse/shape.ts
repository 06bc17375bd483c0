/**
 * A job's parallel shape (`Application.shape`) in SLURM's words, and what a SLURM configuration
 * cannot express of it. Part of `SlurmParse`, which re-exports it.
 *
 * @module
 */
import type { Launcher, Shape } from "../../../src/Application.ts"
import { type GpuRequest, gpusPerNode, type SbatchLayout } from "./sbatch.ts"

/** Launchers that start the ranks themselves, on every node of the allocation. */
const spreading: ReadonlySet<Launcher> = new Set(["srun", "mpirun", "mpiexec"])

/**
 * The `sbatch` layout of a shape run by `launcher` (the application's, else the resource's, else
 * `single`): `--nodes` as given; when not given, one node for a single process and for the
 * `single` and `multiple` launchers (which start everything on the first node), else SLURM
 * decides. `--ntasks` = processes, `--cpus-per-task` = cores per process, GPUs per process,
 * `--exclusive`.
 *
 * @since 0.1.0
 * @category commands
 */
export const layoutOf = (
  shape: Shape,
  launcher: Launcher,
  gpuRequest: GpuRequest = "gpus-per-task",
): SbatchLayout => ({
  nodes: shape.nodes ?? (shape.processes === 1 || !spreading.has(launcher) ? 1 : undefined),
  tasks: shape.processes,
  tasksPerNode: shape.processesPerNode,
  cpusPerTask: shape.coresPerProcess,
  gpusPerTask: shape.gpusPerProcess,
  exclusive: shape.exclusive,
  gpuRequest,
})

/**
 * What a SLURM configuration cannot express of a layout, naming the application's fields and the
 * setting, or `undefined`: with `gpuRequest = gres`, GPUs on an unknown number of processes per
 * node; GPUs per process while the configuration asks `gpus` (or `gres` with `gpuRequest =
 * gres`) for every job.
 *
 * @since 0.1.0
 * @category predicates
 */
export const layoutProblem = (
  layout: SbatchLayout,
  config: { readonly gres?: string | undefined; readonly gpus?: string | undefined },
): string | undefined => {
  if (layout.gpusPerTask === 0) return undefined
  if (config.gpus !== undefined) {
    return `gpusPerProcess: the resource asks --gpus=${config.gpus} for every job (setting ` +
      `gpus); remove it to ask GPUs per process`
  }
  if (layout.gpuRequest !== "gres") return undefined
  if (config.gres !== undefined) {
    return `gpusPerProcess: the resource asks --gres=${config.gres} for every job (setting ` +
      `gres), and gpuRequest = gres would ask --gres=gpu:N too; remove one`
  }
  if (gpusPerNode(layout) === undefined) {
    return `gpusPerProcess, processesPerNode: with gpuRequest = gres, SLURM is asked for the ` +
      `GPUs of each node (--gres=gpu:N), so give processesPerNode or nodes = 1 (or use ` +
      `gpuRequest = gpus-per-task)`
  }
  return undefined
}
