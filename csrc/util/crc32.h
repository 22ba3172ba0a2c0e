#pragma once
#include <cstddef>
#include <cstdint>

namespace attocore {

// CRC-32 (IEEE 802.3, the polynomial zlib uses); crc is the running value (0 to start).
uint32_t crc32_update(uint32_t crc, const uint8_t* data, size_t size);

}  // namespace attocore
