/**
 * The test vectors kept in the repository (`test/data/vectors/`): GC3Pie's, from gc3pie.json,
 * and the outputs recorded from real servers (`$ cmd`, output, `[rc=N]` or `rc=N` blocks; `===
 * label ===` lines between them are not output). A missing file
 * fails the test that needs it, saying where it was expected.
 */

const VECTORS = new URL("./data/vectors/", import.meta.url)

const read = async (url: URL, what: string): Promise<string> => {
  try {
    return await Deno.readTextFile(url)
  } catch (e) {
    throw new Error(
      `the ${what} are missing: expected ${url.pathname}: ${e}`,
    )
  }
}

/** One section of gc3pie.json (`test_slurm`, `test_sge`, ...). */
export const gc3pie = async <T>(section: string): Promise<T> =>
  (JSON.parse(await read(new URL("gc3pie.json", VECTORS), "GC3Pie test vectors")) as Record<
    string,
    T
  >)[section]!

/** One recorded command: its file, the command line, its output and exit code. */
export interface Block {
  readonly file: string
  readonly cmd: string
  readonly output: string
  readonly rc: number | undefined
  /** The `=== label ===` line before it, if any. */
  readonly label?: string | undefined
}

/** Splits a recorded file into `$ cmd` / output / `[rc=N]` blocks. */
export const parseBlocks = (file: string, text: string): ReadonlyArray<Block> => {
  const blocks: Array<Block> = []
  let cmd: string | undefined
  let label: string | undefined
  let out: Array<string> = []
  const flush = (rc: number | undefined) => {
    if (cmd !== undefined) blocks.push({ file, cmd, output: out.join("\n"), rc, label })
    cmd = undefined
    out = []
  }
  for (const line of text.split("\n")) {
    const heading = /^=== (.*) ===$/.exec(line)
    if (heading !== null && cmd === undefined) {
      label = heading[1]
      continue
    }
    // `[rc=N]`, or `rc=N` (the recorders of test/services/*-record.sh)
    const rc = /^\[?rc=(\d+)\]?$/.exec(line)
    if (line.startsWith("$ ")) {
      flush(undefined)
      cmd = line.slice(2)
    } else if (rc !== null) flush(Number(rc[1]))
    else if (cmd !== undefined) out.push(line)
  }
  flush(undefined)
  return blocks
}

/** Every block of the recorded files (`vectors-sge.txt`, ...), in order. */
export const recorded = async (...files: ReadonlyArray<string>): Promise<ReadonlyArray<Block>> => {
  const all: Array<Block> = []
  for (const f of files) {
    all.push(...parseBlocks(f, await read(new URL(`recorded/${f}`, VECTORS), "recorded outputs")))
  }
  return all
}

/** The first block of a recorded file with exactly this command line. */
export const block = async (file: string, cmd: string): Promise<Block> => {
  const b = (await recorded(file)).find((x) => x.cmd === cmd)
  if (b === undefined) throw new Error(`no "$ ${cmd}" block in ${file}`)
  return b
}
