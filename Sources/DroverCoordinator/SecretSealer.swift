import Crypto
import DroverCore
import Foundation

/// Seals the values of a job's secret environment variables with AES-256-GCM, so that the
/// job record in memory and in every store holds only `drover-sealed:v1:<base64>` (nonce,
/// ciphertext, tag). Values are opened only to build an agent's lease.
///
/// The variable's name is the authenticated data: a sealed value moved to another variable
/// does not open.
struct SecretSealer: Sendable {
    /// What every sealed value starts with; the version names the format and the cipher.
    static let prefix = "drover-sealed:v1:"
    /// Bytes of a key (AES-256).
    static let keyByteCount = 32

    /// The key's bytes (`SymmetricKey` is not `Sendable`).
    private let key: [UInt8]

    init(key: [UInt8]) {
        precondition(key.count == Self.keyByteCount, "an AES-256 key is 32 bytes")
        self.key = key
    }

    /// A sealer with a fresh random key, for stores that live only as long as the process.
    static func ephemeral() -> SecretSealer {
        SecretSealer(key: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    /// Seals `value` of variable `name`; each call draws a fresh random nonce.
    func seal(_ value: String, name: String) throws -> String {
        let box = try AES.GCM.seal(Data(value.utf8), using: SymmetricKey(data: key), authenticating: Data(name.utf8))
        // `combined` is nil only for nonces other than the default 12 bytes.
        return Self.prefix + box.combined!.base64EncodedString()
    }

    /// The clear value of a sealed `text` of variable `name`.
    func open(_ text: String, name: String) throws(UnreadableSecret) -> String {
        guard text.hasPrefix(Self.prefix), let combined = Data(base64Encoded: String(text.dropFirst(Self.prefix.count))) else {
            throw UnreadableSecret(variable: name, why: "it is not a sealed value")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: combined)
            let clear = try AES.GCM.open(box, using: SymmetricKey(data: key), authenticating: Data(name.utf8))
            return String(decoding: clear, as: UTF8.self)
        } catch {
            throw UnreadableSecret(variable: name, why: "it was sealed with another key or altered")
        }
    }

    /// `spec` with every secret value sealed, as submitted jobs are kept.
    func sealed(_ spec: JobSpec) throws -> JobSpec {
        var spec = spec
        for name in spec.secretKeys ?? [] {
            if let value = spec.environment[name] { spec.environment[name] = try seal(value, name: name) }
        }
        return spec
    }

    /// `spec` with every secret value opened, as an agent's lease carries it.
    func opened(_ spec: JobSpec) throws(UnreadableSecret) -> JobSpec {
        var spec = spec
        for name in (spec.secretKeys ?? []).sorted() {
            if let value = spec.environment[name] { spec.environment[name] = try open(value, name: name) }
        }
        return spec
    }

    /// Whether `spec` holds a secret value in clear (stored by a coordinator that did not seal).
    static func holdsClearSecrets(_ spec: JobSpec) -> Bool {
        (spec.secretKeys ?? []).contains { name in spec.environment[name].map { !$0.hasPrefix(prefix) } ?? false }
    }

    /// `spec` with its clear secret values sealed; sealed ones are kept as they are.
    func sealingClearValues(of spec: JobSpec) throws -> JobSpec {
        var spec = spec
        for name in spec.secretKeys ?? [] {
            if let value = spec.environment[name], !value.hasPrefix(Self.prefix) { spec.environment[name] = try seal(value, name: name) }
        }
        return spec
    }
}

/// A sealed secret value this coordinator's key does not open.
struct UnreadableSecret: Error, CustomStringConvertible {
    var variable: String
    var why: String

    var description: String {
        "the coordinator could not decrypt secret env \(variable) (\(why)): restore the secret key file that sealed it "
            + "(DATA/secret.key or --secret-key-file) and restart the coordinator, or resubmit the job"
    }
}
