import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address as its network bytes (4 or 16), which is also how a certificate's
/// iPAddress name holds it.
struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    let bytes: [UInt8]

    /// Parses dotted IPv4 or textual IPv6 (brackets and a `%zone` allowed); nil for a name.
    init?(_ text: String) {
        var text = text.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if let zone = text.firstIndex(of: "%") { text = String(text[..<zone]) }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
        } else {
            return nil
        }
    }

    init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    static let loopbackV4 = IPAddress("127.0.0.1")!
    static let loopbackV6 = IPAddress("::1")!

    /// 127.0.0.0/8, ::1, or an IPv4-mapped 127.x (::ffff:127.0.0.1).
    var isLoopback: Bool {
        if let v4 = mappedV4 { return v4.first == 127 }
        return bytes.count == 4 ? bytes[0] == 127 : self == .loopbackV6
    }

    /// 0.0.0.0 or ::, "every address of this machine" when listened on.
    var isUnspecified: Bool { bytes.allSatisfy { $0 == 0 } }

    /// fe80::/10: needs a zone to be reached, which a certificate cannot name.
    var isLinkLocalV6: Bool { bytes.count == 16 && bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80 }

    /// The IPv4 address inside an IPv4-mapped IPv6 one.
    private var mappedV4: ArraySlice<UInt8>? {
        bytes.count == 16 && bytes[..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff ? bytes[12...] : nil
    }

    var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let written = bytes.withUnsafeBytes { raw in
            buffer.withUnsafeMutableBufferPointer { inet_ntop(family, raw.baseAddress, $0.baseAddress, socklen_t($0.count)) != nil }
        }
        return written ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "\(bytes)"
    }

    /// Every address of this machine's interfaces that are up.
    static func localInterfaceAddresses() -> [IPAddress] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var addresses: [IPAddress] = []
        for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
            guard let socket = entry.pointee.ifa_addr, entry.pointee.ifa_flags & UInt32(IFF_UP) != 0 else { continue }
            switch Int32(socket.pointee.sa_family) {
            case AF_INET:
                socket.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                    var address = v4.pointee.sin_addr
                    addresses.append(IPAddress(bytes: withUnsafeBytes(of: &address) { Array($0) })!)
                }
            case AF_INET6:
                socket.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                    var address = v6.pointee.sin6_addr
                    addresses.append(IPAddress(bytes: withUnsafeBytes(of: &address) { Array($0) })!)
                }
            default: continue
            }
        }
        return addresses
    }
}
