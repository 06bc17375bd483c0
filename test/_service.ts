/**
 * What the test helpers of each server (test/_sshd.ts, _slurm.ts, _sge.ts) share: reading the
 * env file an up script wrote, and probing that the server answers.
 */

/** The `KEY=VALUE` lines of an env file (values may be single-quoted), or why it is missing. */
export const readEnvFile = (path: string, upScript: string): Map<string, string> | string => {
  let text: string
  try {
    text = Deno.readTextFileSync(path)
  } catch {
    return `${path} is missing: run test/services/${upScript} as root, or deno task test:services`
  }
  const env = new Map<string, string>()
  for (const line of text.split("\n")) {
    const m = /^([A-Z_0-9]+)=(.*)$/.exec(line.trim())
    if (m) env.set(m[1]!, m[2]!.replace(/^'(.*)'$/, "$1"))
  }
  return env
}

/** Runs a probe command; its stdout when it succeeds, else a reason. */
export const probe = (cmd: string, args: ReadonlyArray<string>): { ok: boolean; said: string } => {
  try {
    const r = new Deno.Command(cmd, { args: [...args], stdout: "piped", stderr: "piped" })
      .outputSync()
    const said = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr)
    return { ok: r.success, said: said.trim() }
  } catch (e) {
    return { ok: false, said: String(e) }
  }
}

/** Deno test options for tests that need a server: ignored (with the reason printed) when down. */
export const serverTest = (
  name: string,
  skipReason: string | undefined,
): { readonly ignore: boolean; readonly sanitizeOps: false; readonly sanitizeResources: false } => {
  if (skipReason !== undefined) console.warn(`SKIPPING the ${name} tests: ${skipReason}`)
  return { ignore: skipReason !== undefined, sanitizeOps: false, sanitizeResources: false }
}
