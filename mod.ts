/**
 * effect-lrms: one typed, resource-safe interface to the places where batch jobs run (local
 * processes, any SSH host, and HPC schedulers), built on Effect for Deno. It re-creates the
 * backend layer of GC3Pie's GC3Libs.
 *
 * The root holds the model, the services, the local transport and the shellcmd backend. The rest
 * comes through its own entry point, so that a program loads only what it uses:
 * `effect-lrms/ssh` (SshTransport), `effect-lrms/slurm`, `effect-lrms/sge`, `effect-lrms/pbs`,
 * `effect-lrms/lsf` (the schedulers), `effect-lrms/config` (gc3pie.conf and brokering),
 * `effect-lrms/dialects` (what a new scheduler dialect is made of) and `effect-lrms/testing`
 * (an in-memory and a fault-injecting transport, fast-check arbitraries).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Application, Auth, LocalTransport, Lrms, Shellcmd } from "effect-lrms"
 *
 * const program = Effect.gen(function* () {
 *   const app = yield* Application.make({ arguments: ["echo", "hi"], stdout: "out.txt" })
 *   const job = yield* Lrms.submitJob(app)
 *   const done = yield* Lrms.awaitTermination(job)
 *   yield* Lrms.free(done)
 *   return done.termination?.exitCode
 * })
 *
 * const exitCode = await Effect.runPromise(program.pipe(
 *   Effect.provide(Shellcmd.layer({
 *     name: "local",
 *     architecture: "x86_64",
 *     maxCores: 2,
 *     maxMemoryPerCore: "1 GiB",
 *     maxWalltime: "1 hour",
 *     spooldir: "/tmp/effect-lrms-mod/spool",
 *     resourceDir: "/tmp/effect-lrms-mod/bookkeeping",
 *   })),
 *   Effect.provide(LocalTransport.layer),
 *   Effect.provide(Auth.none),
 *   Effect.provide(NodeContext.layer), // the platform: files, paths, processes
 * ))
 * deepStrictEqual(exitCode, 0)
 * ```
 *
 * @module
 */

/** The description of a job (GC3Pie's Application). @since 0.1.0 */
export * as Application from "./src/Application.ts"
/** Authentication as a service; the guard every resource operation runs behind. @since 0.1.0 */
export * as Auth from "./src/Auth.ts"
/** The serialisable record of a submitted job. @since 0.1.0 */
export * as Job from "./src/Job.ts"
/** The `Lrms` service and its accessors. @since 0.1.0 */
export * as Lrms from "./src/Lrms.ts"
/** The error family. @since 0.1.0 */
export * as LrmsError from "./src/LrmsError.ts"
/** The metrics effect-lrms records (commands run, submissions, jobs ended). @since 0.1.0 */
export * as Metrics from "./src/Metrics.ts"
/** Memory and duration quantities. @since 0.1.0 */
export * as Quantity from "./src/Quantity.ts"
/** Static resource attributes and the dynamic status. @since 0.1.0 */
export * as Resource from "./src/Resource.ts"
/** Job states and transitions. @since 0.1.0 */
export * as RunState from "./src/RunState.ts"
/** How a job ended. @since 0.1.0 */
export * as Termination from "./src/Termination.ts"
/** `getResults` and `peek`, written once. @since 0.1.0 */
export * as Transfer from "./src/Transfer.ts"
/** Data URLs and transfer-protocol validation. @since 0.1.0 */
export * as TransferUrl from "./src/TransferUrl.ts"
/** The `Transport` service. @since 0.1.0 */
export * as Transport from "./src/Transport.ts"
/** The local machine's transport. @since 0.1.0 */
export * as LocalTransport from "./backends/local/LocalTransport.ts"
/** The shellcmd backend: jobs as processes on the transport's host. @since 0.1.0 */
export * as Shellcmd from "./backends/shellcmd/Shellcmd.ts"
/** Jobs kept on disk so a later process re-attaches to them. @since 0.1.0 */
export * as JobStore from "./src/JobStore.ts"
