import Foundation

/// How the coordinator serves, from where it listens and its TLS settings: closed on the
/// network by default, so no bearer token crosses it in clear unless asked for.
enum Transport: Equatable, Sendable {
    /// Plain HTTP on loopback: nothing leaves the machine.
    case loopbackHTTP
    /// Plain HTTP beyond loopback, asked for with `--insecure-http`.
    case insecureHTTP
    /// HTTPS with the certificate and key given (`--tls-cert`, `--tls-key`).
    case givenCertificate(certificate: String, key: String)
    /// HTTPS with a server certificate from the CA generated in the data directory.
    case generatedCertificate

    init(_ configuration: CoordinatorConfiguration) {
        self.init(configuration, host: configuration.host)
    }

    /// How a listener of the coordinator on `host` serves (the API's, or `--metrics-listen`'s): the same rule for both.
    init(_ configuration: CoordinatorConfiguration, host: String) {
        if let certificate = configuration.tlsCertificatePath, let key = configuration.tlsKeyPath {
            self = .givenCertificate(certificate: certificate, key: key)
        } else if Self.isLoopback(host: host) {
            self = .loopbackHTTP
        } else {
            self = configuration.insecureHTTP ? .insecureHTTP : .generatedCertificate
        }
    }

    var scheme: String { self == .loopbackHTTP || self == .insecureHTTP ? "http" : "https" }

    /// 127.0.0.0/8, ::1 and `localhost`: addresses no other machine reaches.
    static func isLoopback(host: String) -> Bool {
        host.lowercased() == "localhost" || IPAddress(host)?.isLoopback == true
    }
}

/// The names a generated server certificate holds, so that clients verifying the hostname
/// accept it under every address they may use.
struct ServerNames: Equatable, Sendable {
    var dnsNames: Set<String> = []
    var addresses: Set<IPAddress> = []

    /// What a coordinator listening on `listenHost` needs: that address or name; for 0.0.0.0
    /// or ::, every interface address (link-local IPv6 aside: no certificate names its zone),
    /// the loopback addresses, `localhost` and the host name; and every `--tls-san`.
    static func required(listenHost: String, extra: [String], interfaces: [IPAddress], hostname: String) -> ServerNames {
        var names = ServerNames()
        if let address = IPAddress(listenHost), address.isUnspecified {
            names.addresses.formUnion(interfaces.filter { !$0.isLinkLocalV6 && !$0.isUnspecified })
            names.addresses.formUnion([.loopbackV4, .loopbackV6])
            names.add("localhost")
            if !hostname.isEmpty { names.add(hostname) }
        } else {
            names.add(listenHost)
        }
        for name in extra { names.add(name) }
        return names
    }

    /// Letters, digits and hyphens in dot-separated labels (a leading `*.` for a wildcard).
    static func isDNSName(_ text: String) -> Bool {
        let labels = (text.hasPrefix("*.") ? String(text.dropFirst(2)) : text).split(separator: ".", omittingEmptySubsequences: false)
        return text.utf8.count <= 253 && !labels.isEmpty
            && labels.allSatisfy { !$0.isEmpty && $0.count <= 63 && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") } }
    }

    /// An IP address or a DNS name, as the text says.
    mutating func add(_ name: String) {
        if let address = IPAddress(name) { addresses.insert(address) } else { dnsNames.insert(name.lowercased()) }
    }

    /// Whether a certificate with `self`'s names also names everything in `other`.
    func covers(_ other: ServerNames) -> Bool { dnsNames.isSuperset(of: other.dnsNames) && addresses.isSuperset(of: other.addresses) }
}
