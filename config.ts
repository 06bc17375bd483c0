/**
 * `effect-lrms/config`: GC3Pie's configuration file read into typed resource specifications, and
 * every configured resource by name with GC3Pie's brokering. It loads every backend a file may
 * name (SSH and the four schedulers included).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Effect } from "effect"
 * import { Gc3pieConfig } from "effect-lrms/config"
 *
 * const text = "[resource/laptop]\ntype = shellcmd\nmax_cores = 4\nmax_cores_per_job = 2\n" +
 *   "max_memory_per_core = 2\nmax_walltime = 8\narchitecture = x86_64\n"
 * const config = Effect.runSync(Gc3pieConfig.parse(text, "gc3pie.conf"))
 * deepStrictEqual(config.resources[0]?.backend, "shellcmd")
 * ```
 *
 * @since 0.1.0
 * @module
 */

/** GC3Pie's configuration file, read into typed resource specifications. @since 0.1.0 */
export * as Gc3pieConfig from "./src/Gc3pieConfig.ts"
/** Every configured resource by name, and GC3Pie's brokering. @since 0.1.0 */
export * as Resources from "./backends/Resources.ts"
