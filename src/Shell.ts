/**
 * POSIX shell quoting: the one function every generated script and remote command goes through.
 *
 * {@linkcode quote} wraps a string in single quotes (a `'` inside becomes `'\''`), so the shell
 * reads it back byte for byte: no expansion of `$`, backquotes, globs or `~`, whatever the
 * string holds. A NUL byte cannot be passed to a process at all and is refused.
 *
 * @example
 * ```ts
 * import { Shell } from "effect-lrms"
 *
 * console.log(Shell.quote("it's $HOME")) // 'it'\''s $HOME'
 * console.log(Shell.command(["echo", "a b", "*"])) // 'echo' 'a b' '*'
 * ```
 *
 * @since 0.1.0
 * @module
 */

/**
 * Quotes one word for a POSIX shell.
 *
 * @since 0.1.0
 * @category quoting
 */
export const quote = (word: string): string => {
  if (word.includes("\0")) throw new TypeError("a NUL byte cannot be passed to a shell")
  return `'${word.replaceAll("'", `'\\''`)}'`
}

/**
 * Quotes every word of an argv and joins them with spaces.
 *
 * @since 0.1.0
 * @category quoting
 */
export const command = (argv: ReadonlyArray<string>): string => argv.map(quote).join(" ")
