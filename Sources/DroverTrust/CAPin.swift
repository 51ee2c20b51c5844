import Crypto
import SwiftASN1
import X509

/// A CA's pin: the SHA-256 of its certificate's DER SubjectPublicKeyInfo, written
/// `sha256:HEX` (kubeadm's `--discovery-token-ca-cert-hash`). An agent or the CLI given the pin
/// trusts a coordinator's CA without a copy of the file.
public struct CAPin: Sendable, Hashable, CustomStringConvertible {
    /// The 32 bytes of the digest.
    public let digest: [UInt8]

    /// The pin of `certificate`'s public key.
    public init(of certificate: Certificate) throws {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate.publicKey)
        digest = Array(SHA256.hash(data: serializer.serializedBytes))
    }

    /// The pin of the first certificate in `pem`.
    public init(ofPEM pem: String) throws {
        try self.init(of: try Certificate(pemEncoded: pem))
    }

    /// Parses `sha256:HEX` (64 hex digits, either case); the error says what a pin looks like.
    public init(parsing text: String) throws(CAPinError) {
        let hex = text.hasPrefix("sha256:") ? text.dropFirst("sha256:".count) : Substring(text)
        guard text.hasPrefix("sha256:"), hex.count == 64, hex.allSatisfy(\.isHexDigit), let bytes = Self.bytes(hex: hex) else {
            throw CAPinError("'\(text)' is not a CA pin: write sha256: and the 64 hex digits the coordinator prints at start")
        }
        digest = bytes
    }

    public var description: String { "sha256:" + digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

    private static func bytes(hex: Substring) -> [UInt8]? {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}

/// A CA pin that cannot be read.
public struct CAPinError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
