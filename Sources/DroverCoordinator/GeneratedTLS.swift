import Crypto
import DroverAPI
import DroverTrust
import Foundation
import Logging
import X509

/// The generated CA and server certificate in `DATA/tls`: made on first start, reused on later
/// ones; the server certificate is remade (the CA kept, so agents' pins hold) when it no longer
/// names every address to serve on or nears its end. Every file is written whole and mode 0600.
struct GeneratedTLS: Sendable {
    let directory: String

    init(dataDirectory: String) {
        directory = URL(fileURLWithPath: dataDirectory).appendingPathComponent("tls").path
    }

    var caCertificatePath: String { directory + "/ca.pem" }
    var caKeyPath: String { directory + "/ca.key" }
    var serverCertificatePath: String { directory + "/server.pem" }
    var serverKeyPath: String { directory + "/server.key" }

    /// What the server serves with and what clients are told.
    struct Prepared: Sendable {
        let caPEM: String
        let pin: CAPin
        let certificatePath: String
        let keyPath: String
    }

    /// Loads or makes the CA and a server certificate naming `names`.
    func prepare(names: ServerNames, now: Date = Date(), logger: Logger) throws -> Prepared {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let authority = try loadOrMakeAuthority(now: now, logger: logger)
        let current = try? Certificate(pemEncoded: String(contentsOfFile: serverCertificatePath, encoding: .utf8))
        let currentKey = try? P256.Signing.PrivateKey(pemRepresentation: String(contentsOfFile: serverKeyPath, encoding: .utf8))
        if let current, let currentKey, currentKey.publicKey.derRepresentation == P256.Signing.PublicKey(current.publicKey)?.derRepresentation,
           authority.stillServes(current, names: names, now: now) {
            logger.info("serving HTTPS with the generated server certificate", metadata: ["tls.certificate": "\(serverCertificatePath)"])
        } else {
            let (certificate, key) = try authority.issueServerCertificate(for: names, now: now)
            try Self.writePrivately(key.pemRepresentation, to: serverKeyPath)
            try Self.writePrivately(try certificate.serializeAsPEM().pemString + "\n", to: serverCertificatePath)
            logger.notice("generated a server certificate signed by the coordinator's CA", metadata: [
                "tls.certificate": "\(serverCertificatePath)",
                "tls.names": "\((names.dnsNames.sorted() + names.addresses.map(\.description).sorted()).joined(separator: ", "))",
            ])
        }
        return Prepared(caPEM: try authority.certificate.serializeAsPEM().pemString + "\n", pin: try authority.pin,
                        certificatePath: serverCertificatePath, keyPath: serverKeyPath)
    }

    private func loadOrMakeAuthority(now: Date, logger: Logger) throws -> CertificateAuthority {
        let hasCertificate = FileManager.default.fileExists(atPath: caCertificatePath), hasKey = FileManager.default.fileExists(atPath: caKeyPath)
        guard hasCertificate || hasKey else {
            let authority = try CertificateAuthority.generate(now: now)
            try Self.writePrivately(authority.key.pemRepresentation, to: caKeyPath)
            try Self.writePrivately(try authority.certificate.serializeAsPEM().pemString + "\n", to: caCertificatePath)
            logger.notice("generated the coordinator's CA; agents and the CLI trust it by its pin (--ca-pin) or with --ca-cert \(caCertificatePath)",
                          metadata: ["tls.ca": "\(caCertificatePath)"])
            return authority
        }
        let authority: CertificateAuthority
        do {
            authority = CertificateAuthority(
                certificate: try Certificate(pemEncoded: String(contentsOfFile: caCertificatePath, encoding: .utf8)),
                key: try P256.Signing.PrivateKey(pemRepresentation: String(contentsOfFile: caKeyPath, encoding: .utf8)))
        } catch {
            throw ConfigurationError("cannot read the coordinator's CA (\(caCertificatePath), \(caKeyPath)): \(error); restore both from a backup, or remove \(directory) to make a new CA (every agent and client then needs the new --ca-pin)")
        }
        guard P256.Signing.PublicKey(authority.certificate.publicKey)?.derRepresentation == authority.key.publicKey.derRepresentation else {
            throw ConfigurationError("\(caKeyPath) is not the key of \(caCertificatePath); restore both from a backup, or remove \(directory) to make a new CA (every agent and client then needs the new --ca-pin)")
        }
        guard authority.certificate.notValidAfter > now + CertificateAuthority.renewBefore else {
            throw ConfigurationError("the coordinator's CA \(caCertificatePath) expires \(authority.certificate.notValidAfter); remove \(directory) to make a new CA (every agent and client then needs the new --ca-pin)")
        }
        return authority
    }

    /// Writes `text` to a new file only the owner can read, then renames it over `path`, so a
    /// crash never leaves a half-written key and no other user ever sees one.
    static func writePrivately(_ text: String, to path: String) throws {
        let temporary = path + ".tmp-\(UUID().uuidString.prefix(8))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw ConfigurationError("cannot write \(path): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw ConfigurationError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
