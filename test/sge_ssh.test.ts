/**
 * The Grid Engine backend over the SSH transport to the login node (the test sshd, user
 * lrmskey). Needs both the test sshd and the test Grid Engine.
 */
import * as Layer from "effect/Layer"
import * as Sge from "../backends/sge/Sge.ts"
import { suite } from "./contract/LrmsContract.ts"
import { keyAuth, sshd, transport } from "./_sshd.ts"
import { config, sge } from "./_sge.ts"

suite("sge+ssh", {
  makeLayer: ({ dir, maxCores }) =>
    Sge.layer(config({
      spooldir: `~/.effect-lrms-test/${dir.split("/").pop()}/spool`,
      maxCores,
      maxCoresPerJob: maxCores,
    })).pipe(Layer.provide(transport())),
  auth: keyAuth,
  sharedResource: true,
  timeout: "120 seconds",
  denoTest: {
    ignore: sshd === undefined || sge === undefined,
    sanitizeOps: false,
    sanitizeResources: false,
  },
})
