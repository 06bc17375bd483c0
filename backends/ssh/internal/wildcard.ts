/**
 * @internal OpenSSH's `match_pattern`: `*` is any run of characters, `?` exactly one; an
 * iterative matcher that backtracks to the last `*` (no regular expression, linear in practice).
 * With `fold`, case is ignored.
 */
export const wildcard = (text: string, pattern: string, fold = false): boolean => {
  const t0 = fold ? text.toLowerCase() : text
  const p0 = fold ? pattern.toLowerCase() : pattern
  let t = 0
  let p = 0
  let star = -1
  let mark = 0
  while (t < t0.length) {
    const c = p0[p]
    if (c === "*") {
      star = p++
      mark = t
    } else if (c !== undefined && (c === "?" || c === t0[t])) {
      p++
      t++
    } else if (star !== -1) {
      p = star + 1
      t = ++mark
    } else {
      return false
    }
  }
  while (p0[p] === "*") p++
  return p === p0.length
}
