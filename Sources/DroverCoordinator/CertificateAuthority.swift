import Crypto
import DroverTrust
import Foundation
import SwiftASN1
import X509

/// The coordinator's own CA (ECDSA P-256) and the server certificates it signs: no I/O, so
/// making and checking them is testable with any clock.
struct CertificateAuthority {
    let certificate: Certificate
    let key: P256.Signing.PrivateKey

    /// How long a generated CA is valid: agents keep its pin for years.
    static let caValidity: TimeInterval = 10 * 365 * 86_400
    /// How long a server certificate is valid; a start within `renewBefore` of its end makes a new one.
    static let serverValidity: TimeInterval = 2 * 365 * 86_400
    static let renewBefore: TimeInterval = 30 * 86_400
    /// Certificates are valid from this long before they are made: an agent whose clock is
    /// behind (by up to a week) still accepts a certificate made a minute ago.
    static let backdating: TimeInterval = 7 * 86_400

    /// A new CA, valid from ``backdating`` ago (clocks differ) for ``caValidity``.
    static func generate(now: Date) throws -> CertificateAuthority {
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let name = try DistinguishedName {
            OrganizationName("Drover")
            CommonName("Drover coordinator CA")
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: publicKey, notValidBefore: now - Self.backdating, notValidAfter: now + caValidity,
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: .init(key))
        return CertificateAuthority(certificate: certificate, key: key)
    }

    /// A server certificate naming `names`, with its new key.
    func issueServerCertificate(for names: ServerNames, now: Date) throws -> (certificate: Certificate, key: P256.Signing.PrivateKey) {
        let serverKey = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("Drover")
            CommonName("Drover coordinator")
        }
        let alternativeNames = names.dnsNames.sorted().map { GeneralName.dnsName($0) }
            + names.addresses.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }.map { .ipAddress(ASN1OctetString(contentBytes: $0.bytes[...])) }
        let authorityKeyIdentifier = try certificate.extensions.subjectKeyIdentifier?.keyIdentifier
        let server = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(serverKey.publicKey), notValidBefore: now - Self.backdating,
            notValidAfter: min(now + Self.serverValidity, certificate.notValidAfter),
            issuer: certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(alternativeNames)
                AuthorityKeyIdentifier(keyIdentifier: authorityKeyIdentifier)
            },
            issuerPrivateKey: .init(key))
        return (server, serverKey)
    }

    /// Whether `server` can be served on: signed by this CA, naming everything in `names`, and
    /// not within ``renewBefore`` of its end.
    func stillServes(_ server: Certificate, names: ServerNames, now: Date) -> Bool {
        guard server.issuer == certificate.subject, certificate.publicKey.isValidSignature(server.signature, for: server),
              server.notValidAfter > now + Self.renewBefore, let held = try? ServerNames(of: server) else { return false }
        return held.covers(names)
    }

    var pin: CAPin { get throws { try CAPin(of: certificate) } }
}

extension ServerNames {
    /// The DNS and IP names a certificate holds.
    init(of certificate: Certificate) throws {
        self.init()
        for name in try certificate.extensions.subjectAlternativeNames ?? SubjectAlternativeNames() {
            switch name {
            case .dnsName(let dns): dnsNames.insert(dns.lowercased())
            case .ipAddress(let octets): if let address = IPAddress(bytes: Array(octets.bytes)) { addresses.insert(address) }
            default: continue
            }
        }
    }
}
