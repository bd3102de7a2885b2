// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0
/// Bech32 (BIP 173) as age uses it: no limit on the length of the data part, all lowercase or
/// all uppercase, the checksum always computed over the lowercase form. `age1…` recipients
/// and `AGE-SECRET-KEY-1…` identities are Bech32 strings of a 32-byte key.
enum Bech32 {
    static let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)
    static let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]

    enum Failure: Error, Equatable, CustomStringConvertible {
        case mixedCase, noSeparator, invalidCharacter, badChecksum, badPadding

        var description: String {
            switch self {
            case .mixedCase: "mixes upper and lower case"
            case .noSeparator: "has no '1' separator before a 6-character checksum"
            case .invalidCharacter: "has a character outside the Bech32 alphabet"
            case .badChecksum: "has a bad checksum (a typo, or a truncated copy)"
            case .badPadding: "has invalid padding bits"
            }
        }
    }

    static func encode(hrp: String, data: [UInt8]) -> String {
        let lowerHRP = hrp.lowercased()
        let values = convertBits(data, from: 8, to: 5, pad: true) ?? []
        let checksum = createChecksum(hrp: lowerHRP, values: values)
        let text = lowerHRP + "1" + String(decoding: (values + checksum).map { charset[Int($0)] }, as: UTF8.self)
        return hrp == hrp.uppercased() && hrp != lowerHRP ? text.uppercased() : text
    }

    /// The human-readable part (as written: upper or lower case) and the data bytes.
    static func decode(_ text: String) throws(Failure) -> (hrp: String, data: [UInt8]) {
        guard text == text.lowercased() || text == text.uppercased() else { throw .mixedCase }
        let bytes = Array(text.utf8)
        guard let separator = bytes.lastIndex(of: UInt8(ascii: "1")), separator >= 1, separator + 7 <= bytes.count else { throw .noSeparator }
        let hrpBytes = bytes[..<separator]
        guard hrpBytes.allSatisfy({ (33...126).contains($0) }) else { throw .invalidCharacter }
        let hrp = String(decoding: hrpBytes, as: UTF8.self)
        var values: [UInt8] = []
        values.reserveCapacity(bytes.count - separator - 1)
        for byte in text.lowercased().utf8.dropFirst(separator + 1) {
            guard let value = charset.firstIndex(of: byte) else { throw .invalidCharacter }
            values.append(UInt8(value))
        }
        guard polymod(expand(hrp.lowercased()) + values) == 1 else { throw .badChecksum }
        guard let data = convertBits(Array(values.dropLast(6)), from: 5, to: 8, pad: false) else { throw .badPadding }
        return (hrp, data)
    }

    static func polymod(_ values: [UInt8]) -> UInt32 {
        var checksum: UInt32 = 1
        for value in values {
            let top = checksum >> 25
            checksum = (checksum & 0x1ff_ffff) << 5 ^ UInt32(value)
            for index in 0..<5 where (top >> UInt32(index)) & 1 == 1 { checksum ^= generator[index] }
        }
        return checksum
    }

    static func expand(_ hrp: String) -> [UInt8] {
        let bytes = Array(hrp.utf8)
        return bytes.map { $0 >> 5 } + [0] + bytes.map { $0 & 31 }
    }

    static func createChecksum(hrp: String, values: [UInt8]) -> [UInt8] {
        let mod = polymod(expand(hrp) + values + [0, 0, 0, 0, 0, 0]) ^ 1
        return (0..<6).map { UInt8((mod >> UInt32(5 * (5 - $0))) & 31) }
    }

    /// Regroups bits; nil when unpadded input leaves a whole group or non-zero bits behind.
    static func convertBits(_ data: [UInt8], from: Int, to: Int, pad: Bool) -> [UInt8]? {
        var accumulator: UInt32 = 0
        var bits = 0
        let maximum: UInt32 = (1 << to) - 1
        var result: [UInt8] = []
        result.reserveCapacity(data.count * from / to + 1)
        for value in data {
            guard UInt32(value) >> from == 0 else { return nil }
            accumulator = accumulator << from | UInt32(value)
            bits += from
            while bits >= to {
                bits -= to
                result.append(UInt8((accumulator >> UInt32(bits)) & maximum))
            }
        }
        if pad {
            if bits > 0 { result.append(UInt8((accumulator << UInt32(to - bits)) & maximum)) }
        } else if bits >= from || (accumulator << UInt32(to - bits)) & maximum != 0 {
            return nil
        }
        return result
    }
}
