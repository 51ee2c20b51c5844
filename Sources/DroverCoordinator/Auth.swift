import Crypto
import DroverCore
import Foundation

/// Who sent a request, from its bearer token.
public enum Principal: Sendable, Equatable {
    /// `tokenID` is nil for the admin token given by flag or environment.
    case admin(tokenID: String?)
    /// Holder of the join token: may only register agents.
    case joiner
    /// A team token: submitter or reader of `team`.
    case team(String, TokenRole, tokenID: String)
    case agent(NodeID)

    /// How the principal appears in the audit trail.
    var actor: String {
        switch self {
        case .admin(let id): id.map { "admin(\($0))" } ?? "admin"
        case .joiner: "join-token"
        case .team(let team, let role, let id): "\(team)/\(role.rawValue)(\(id))"
        case .agent(let node): "node/\(node)"
        }
    }

    var isAdmin: Bool { if case .admin = self { true } else { false } }
}

/// Token hashing and comparison.
enum TokenHash {
    /// SHA-256 of the token, hex: what the store keeps instead of the token.
    static func hex(_ token: String) -> String { hex(digest: digest(token)) }

    /// SHA-256 of the token.
    static func digest(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Data(token.utf8))) }

    /// Lowercase hex of a digest.
    static func hex(digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(digest.count * 2)
        for byte in digest {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// Compares two secrets in time independent of where they differ.
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        // Compare digests so that length differences do not leak either.
        constantTimeEquals(digest: digest(a), digest(b))
    }

    /// Compares two digests in time independent of where they differ.
    static func constantTimeEquals(digest x: [UInt8], _ y: [UInt8]) -> Bool {
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<x.count { difference |= x[i] ^ y[i] }
        return difference == 0
    }

    /// A new random token: 32 bytes from the system's CSPRNG, base64url.
    static func generate(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let text = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return prefix + text
    }
}
