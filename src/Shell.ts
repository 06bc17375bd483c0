/**
 * POSIX shell quoting: the one function every generated script and remote command goes through.
 *
 * {@linkcode quote} wraps a string in single quotes (a `'` inside becomes `'\''`), so the shell
 * reads it back byte for byte: no expansion of `$`, backquotes, globs or `~`, whatever the
 * string holds. A NUL byte cannot be passed to a process at all and is refused.
 *
 * {@linkcode split} goes the other way for configuration values such as
 * `sbatch = /opt/slurm/bin/sbatch --constraint="x y"  # site default`: words are separated by
 * blanks, quotes and backslashes are honoured, a `#` that starts a word starts a comment, and
 * nothing is expanded.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Shell } from "effect-lrms/dialects"
 *
 * deepStrictEqual(Shell.quote("it's $HOME"), "'it'\\''s $HOME'")
 * deepStrictEqual(Shell.command(["echo", "a b", "*"]), "'echo' 'a b' '*'")
 * deepStrictEqual(Shell.split(`sbatch --comment="a b" # note`), ["sbatch", "--comment=a b"])
 * ```
 *
 * @since 0.1.0
 * @module
 */

/**
 * Quotes one word for a POSIX shell.
 *
 * @since 0.1.0
 * @category commands
 */
export const quote = (word: string): string => {
  if (word.includes("\0")) throw new TypeError("a NUL byte cannot be passed to a shell")
  return `'${word.replaceAll("'", `'\\''`)}'`
}

/**
 * Quotes every word of an argv and joins them with spaces.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = (argv: ReadonlyArray<string>): string => argv.map(quote).join(" ")

/**
 * Splits a command line into words by POSIX shell rules, without expanding anything: blanks
 * separate words; `'...'` is literal; inside `"..."` a backslash escapes only `$`, a backquote,
 * `"`, `\\` and a newline; outside quotes a backslash escapes any character; a `#` at the start
 * of a word comments out the rest of the line. Returns `undefined` for an unterminated quote or
 * a trailing backslash.
 *
 * @since 0.1.0
 * @category commands
 */
export const split = (line: string): Array<string> | undefined => {
  const words: Array<string> = []
  let word = ""
  let inWord = false
  let i = 0
  while (i < line.length) {
    const c = line[i]!
    if (c === " " || c === "\t" || c === "\n") {
      if (inWord) words.push(word)
      word = ""
      inWord = false
      i++
    } else if (c === "#" && !inWord) {
      const eol = line.indexOf("\n", i)
      if (eol < 0) break
      i = eol
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1)
      if (end < 0) return undefined
      word += line.slice(i + 1, end)
      inWord = true
      i = end + 1
    } else if (c === '"') {
      i++
      for (;;) {
        if (i >= line.length) return undefined
        const d = line[i]!
        if (d === '"') break
        if (d === "\\" && i + 1 < line.length && '$`"\\\n'.includes(line[i + 1]!)) {
          if (line[i + 1] !== "\n") word += line[i + 1]
          i += 2
        } else {
          word += d
          i++
        }
      }
      inWord = true
      i++
    } else if (c === "\\") {
      if (i + 1 >= line.length) return undefined
      if (line[i + 1] !== "\n") {
        word += line[i + 1]
        inWord = true
      }
      i += 2
    } else {
      word += c
      inWord = true
      i++
    }
  }
  if (inWord) words.push(word)
  return words
}
