import Crypto
import DroverCore
import Foundation

/// Standard Webhooks signing: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed by the
/// bytes a `whsec_` secret encodes.
enum WebhookSignature {
    static let secretPrefix = "whsec_"

    /// The key bytes of a `whsec_` secret; errors say what a secret looks like.
    static func key(of secret: String) throws(APIError) -> [UInt8] {
        guard secret.hasPrefix(secretPrefix), let bytes = Data(base64Encoded: String(secret.dropFirst(secretPrefix.count))),
              (16...64).contains(bytes.count) else {
            throw APIError.badRequest("a secret is whsec_ followed by the base64 of 16 to 64 random bytes; leave it out to have one made",
                                      field: "secret")
        }
        return Array(bytes)
    }

    /// A new secret of 32 random bytes.
    static func generateSecret() -> String {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &random) }
        return secretPrefix + Data(bytes).base64EncodedString()
    }

    /// The `webhook-signature` header of one try.
    static func sign(id: String, timestamp: Int64, body: [UInt8], key: [UInt8]) -> String {
        var message = Array("\(id).\(timestamp).".utf8)
        message += body
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }
}

/// When a failed delivery is tried again: `min(5 s × 2^(tries-1), 1 h) × (1 ± 20 %)`, so the
/// first retry comes within 10 s; given up once the first try is more than 25 h old.
enum WebhookRetry {
    static let firstDelayMilliseconds: Int64 = 5_000
    static let maxDelayMilliseconds: Int64 = 3_600_000
    static let jitter = 0.2
    static let windowMilliseconds: Int64 = 25 * 3_600_000

    /// Milliseconds until the try after `tries` failed ones.
    static func delay(afterTries tries: Int, random: inout some RandomNumberGenerator) -> Int64 {
        let exponent = min(max(tries - 1, 0), 20)
        let base = min(firstDelayMilliseconds << exponent, maxDelayMilliseconds)
        let factor = 1 + Double.random(in: -jitter...jitter, using: &random)
        return Int64((Double(base) * factor).rounded())
    }

    /// `delivery` after one more try at `now` that got `status` (nil: no answer) or failed
    /// with `error`: delivered on a 2xx; else pending until its next try, or failed once the
    /// next try would fall past the window.
    static func settle(_ delivery: DeliveryRecord, status: Int?, error: String?, at now: Timestamp,
                       random: inout some RandomNumberGenerator) -> DeliveryRecord {
        var next = delivery
        next.tries += 1
        next.lastStatus = status
        next.lastError = error
        if let status, (200..<300).contains(status) {
            (next.state, next.nextTry, next.lastError) = (.delivered, nil, nil)
            return next
        }
        let due = now.adding(milliseconds: delay(afterTries: next.tries, random: &random))
        if due.milliseconds - delivery.createdAt.milliseconds > windowMilliseconds {
            (next.state, next.nextTry) = (.failed, nil)
        } else {
            (next.state, next.nextTry) = (.pending, due)
        }
        return next
    }
}
