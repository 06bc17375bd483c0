/**
 * A transport wrapper for tests that count scheduler commands.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Transport } from "../src/Transport.ts"

/** Counts the commands a transport runs, by program name. */
export const counting = (
  counts: Map<string, number>,
): Layer.Layer<Transport, never, Transport> =>
  Layer.effect(
    Transport,
    Effect.map(Transport, (t) => ({
      ...t,
      exec: (argv, options) =>
        Effect.suspend(() => {
          const shell = argv[0] === "/bin/sh" && argv[1] === "-s"
          const markers = shell && String(options?.stdin ?? "").includes("lrms_markers")
          const name = markers ? "markers" : shell ? "submit-script" : argv[0]!
          counts.set(name, (counts.get(name) ?? 0) + 1)
          return t.exec(argv, options)
        }),
    })),
  )
