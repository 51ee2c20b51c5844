import DroverCore
import Foundation
import Testing
@testable import DroverCoordinator

/// Secret env values sealed with AES-256-GCM: they open with their key and name only.
@Suite struct SecretSealerTests {
    let sealer = SecretSealer.ephemeral()

    var spec: JobSpec {
        var spec = JobSpec(name: "uses-a-secret", team: "ml", command: ["true"], environment: ["TOKEN": "hf_s3cr3t", "MODE": "fast"])
        spec.secretKeys = ["TOKEN"]
        return spec
    }

    @Test func aSealedValueOpensToTheClearValueAndShowsNothingOfIt() throws {
        let sealed = try sealer.seal("hf_s3cr3t ünïcode", name: "TOKEN")
        #expect(sealed.hasPrefix("drover-sealed:v1:"))
        #expect(!sealed.contains("s3cr3t"))
        #expect(try sealer.open(sealed, name: "TOKEN") == "hf_s3cr3t ünïcode")
        #expect(try sealer.open(try sealer.seal("", name: "EMPTY"), name: "EMPTY") == "")
    }

    @Test func everySealDrawsAFreshNonce() throws {
        let seals = try (0..<100).map { _ in try sealer.seal("same value", name: "TOKEN") }
        #expect(Set(seals).count == seals.count)
        let nonces = seals.map { Data(base64Encoded: String($0.dropFirst(SecretSealer.prefix.count)))!.prefix(12) }
        #expect(Set(nonces).count == nonces.count)
    }

    @Test func anotherKeyFailsCleanlyNamingTheVariableAndTheFix() throws {
        let sealed = try sealer.seal("hf_s3cr3t", name: "TOKEN")
        let error = try #require(throws: UnreadableSecret.self) { try SecretSealer.ephemeral().open(sealed, name: "TOKEN") }
        #expect(error.description.contains("could not decrypt secret env TOKEN"))
        #expect(error.description.contains("restore the secret key file"))
    }

    @Test func aTamperedMovedOrMangledValueDoesNotOpen() throws {
        let sealed = try sealer.seal("hf_s3cr3t", name: "TOKEN")
        var bytes = Array(Data(base64Encoded: String(sealed.dropFirst(SecretSealer.prefix.count)))!)
        for position in [0, 12, bytes.count - 1] { // nonce, ciphertext, tag
            var tampered = bytes
            tampered[position] ^= 0x01
            #expect(throws: UnreadableSecret.self) { try sealer.open(SecretSealer.prefix + Data(tampered).base64EncodedString(), name: "TOKEN") }
        }
        bytes.removeLast()
        #expect(throws: UnreadableSecret.self) { try sealer.open(SecretSealer.prefix + Data(bytes).base64EncodedString(), name: "TOKEN") }
        #expect(throws: UnreadableSecret.self) { try sealer.open(sealed, name: "OTHER") } // the name is authenticated
        #expect(throws: UnreadableSecret.self) { try sealer.open("hf_s3cr3t", name: "TOKEN") }
        #expect(throws: UnreadableSecret.self) { try sealer.open(SecretSealer.prefix + "not base64!", name: "TOKEN") }
        #expect(throws: UnreadableSecret.self) { try sealer.open(SecretSealer.prefix, name: "TOKEN") }
    }

    @Test func aSpecIsSealedInItsSecretValuesOnlyAndOpensBack() throws {
        let sealed = try sealer.sealed(spec)
        #expect(sealed.environment["MODE"] == "fast")
        #expect(sealed.environment["TOKEN"]?.hasPrefix(SecretSealer.prefix) == true)
        #expect(!SecretSealer.holdsClearSecrets(sealed))
        #expect(SecretSealer.holdsClearSecrets(spec))
        #expect(try sealer.opened(sealed) == spec)
        // Sealing what an older coordinator stored keeps values already sealed as they are.
        #expect(try sealer.sealingClearValues(of: sealed) == sealed)
        #expect(try sealer.opened(try sealer.sealingClearValues(of: spec)) == spec)
        let plain = JobSpec(name: "plain", team: "ml", command: ["true"], environment: ["A": "1"])
        #expect(try sealer.sealed(plain) == plain)
    }
}
