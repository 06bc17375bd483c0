/**
 * ECDSA keys as OpenSSH writes them: ssh2 under Deno cannot sign with the ones whose private
 * scalar has its high bit set; re-encoded with a fixed-length scalar, every one signs.
 */
import { ok, strictEqual } from "node:assert/strict"
// @ts-types="@types/ssh2"
import ssh2 from "ssh2"
import * as SshKey from "../src/internal/sshKey.ts"

const keygen = (args: ReadonlyArray<string>) => {
  const out = new Deno.Command("ssh-keygen", { args: ["-q", ...args] }).outputSync()
  if (!out.success) throw new Error(`ssh-keygen failed: ${new TextDecoder().decode(out.stderr)}`)
}

const signsAndVerifies = (privatePem: string, publicText: string): boolean => {
  const key = ssh2.utils.parseKey(privatePem)
  if (key instanceof Error || Array.isArray(key)) return false
  const signature = key.sign(Buffer.from("effect-lrms"))
  if (signature instanceof Error) return false
  const pub = ssh2.utils.parseKey(publicText)
  return !(pub instanceof Error) && !Array.isArray(pub) &&
    pub.verify(Buffer.from("effect-lrms"), signature) === true
}

Deno.test("ECDSA keys re-encoded with a fixed-length scalar all sign, including those ssh2 cannot", () => {
  const dir = Deno.makeTempDirSync()
  try {
    let brokenAsWritten = 0
    for (const [i, bits] of [256, 256, 256, 256, 256, 256, 384, 384, 384].entries()) {
      // keep generating P-256 keys until one that ssh2 cannot sign with has been seen
      for (let attempt = 0; attempt < (i === 0 ? 40 : 1); attempt++) {
        const f = `${dir}/k${i}-${attempt}`
        keygen(["-t", "ecdsa", "-b", String(bits), "-N", "", "-f", f])
        const pem = Deno.readTextFileSync(f)
        const pub = Deno.readTextFileSync(`${f}.pub`)
        strictEqual(SshKey.privateKeyType(pem), `ecdsa-sha2-nistp${bits}`)
        strictEqual(SshKey.isEncrypted(pem), false)
        const asWritten = signsAndVerifies(pem, pub)
        if (!asWritten) brokenAsWritten++
        const usable = SshKey.ecdsaForSsh2(pem)
        ok(usable !== undefined, f)
        // a key ssh2 could not use as written is re-encoded
        if (!asWritten) ok(usable.startsWith("-----BEGIN EC PRIVATE KEY-----"), f)
        ok(signsAndVerifies(usable, pub), `usable key ${f} signs and verifies`)
        if (i === 0 && !asWritten) break
      }
    }
    ok(brokenAsWritten > 0, "at least one key ssh2 could not use as written was fixed")
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})

Deno.test("P-521 keys: usable as written, or refused (never a key that cannot sign)", () => {
  const dir = Deno.makeTempDirSync()
  try {
    for (let i = 0; i < 6; i++) {
      keygen(["-t", "ecdsa", "-b", "521", "-N", "", "-f", `${dir}/k${i}`])
      const usable = SshKey.ecdsaForSsh2(Deno.readTextFileSync(`${dir}/k${i}`))
      if (usable !== undefined) {
        ok(signsAndVerifies(usable, Deno.readTextFileSync(`${dir}/k${i}.pub`)), `k${i}`)
      }
    }
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})

Deno.test("encrypted and non-ECDSA keys are not re-encoded", () => {
  const dir = Deno.makeTempDirSync()
  try {
    keygen(["-t", "ecdsa", "-N", "secret", "-f", `${dir}/enc`])
    keygen(["-t", "ed25519", "-N", "", "-f", `${dir}/ed`])
    const enc = Deno.readTextFileSync(`${dir}/enc`)
    strictEqual(SshKey.isEncrypted(enc), true)
    strictEqual(SshKey.privateKeyType(enc), "ecdsa-sha2-nistp256")
    strictEqual(SshKey.ecdsaForSsh2(enc), undefined)
    const ed = Deno.readTextFileSync(`${dir}/ed`)
    strictEqual(SshKey.privateKeyType(ed), "ssh-ed25519")
    strictEqual(SshKey.ecdsaForSsh2(ed), undefined)
    strictEqual(SshKey.privateKeyType("not a key"), undefined)
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})
