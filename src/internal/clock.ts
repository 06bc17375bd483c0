/**
 * @internal The timestamp formats batch tools print, read as naive ISO strings
 * (`2026-11-24T03:40:00`): ctime-like `Tue Nov 24 03:40:00 2026` (ps, qacct, qstat -f) and
 * US-style `11/24/2026 03:40:00` (qstat, tracejob).
 */

/** @internal Month abbreviations (C locale) to 0-based month numbers. */
export const monthIndex: Readonly<Record<string, number>> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
}

const two = (n: number | string) => String(n).padStart(2, "0")

/** @internal `Tue Nov 24 03:40:00 2026` → `2026-11-24T03:40:00`, else `undefined`. */
export const fromCtime = (text: string): string | undefined => {
  const m = /^\w{3} (\w{3}) +(\d{1,2}) (\d{2}:\d{2}:\d{2}) (\d{4})$/.exec(text.trim())
  const month = m === null ? undefined : monthIndex[m[1]!]
  return m === null || month === undefined
    ? undefined
    : `${m[4]}-${two(month + 1)}-${two(m[2]!)}T${m[3]}`
}

/** @internal `11/24/2026 03:40:00[.123]` → `2026-11-24T03:40:00`, else `undefined`. */
export const fromUsDate = (text: string): string | undefined => {
  const m = /^(\d{2})\/(\d{2})\/(\d{4}) (\d{2}:\d{2}:\d{2})(?:\.\d+)?$/.exec(text.trim())
  return m === null ? undefined : `${m[3]}-${m[1]}-${m[2]}T${m[4]}`
}
