/**
 * The shellcmd resource the local tests use: this machine's architectures, 1 GiB per core, an
 * hour's walltime, and its spool and bookkeeping under a test's own directory.
 */
import type * as Shellcmd from "../backends/shellcmd/Shellcmd.ts"

/** A shellcmd config for a test directory; `extra` overrides any field (the name, say). */
export const localConfig = (
  dir: string,
  maxCores: number,
  extra: Partial<Shellcmd.ShellcmdConfigInput> = {},
): Shellcmd.ShellcmdConfigInput => ({
  name: "local-test",
  architecture: ["x86_64", "aarch64"],
  maxCores,
  maxMemoryPerCore: "1 GiB",
  maxWalltime: "1 hour",
  spooldir: `${dir}/spool`,
  resourceDir: `${dir}/bookkeeping`,
  ...extra,
})
