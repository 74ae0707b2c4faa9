#include "rows/copy_encoder.h"

#include "rows/pow10.h"

namespace sentinel {

void CopyEncoder::numeric(int64_t units, int scale) {
  // numeric's binary form: ndigits, weight, sign, dscale, then base-10000 digits, most
  // significant first. The magnitude is split into an integer part and `scale` fraction digits,
  // which occupy ceil(scale / 4) base-10000 digits (the last padded with zeros).
  constexpr uint16_t kNegative = 0x4000;
  const bool negative = units < 0;
  const uint64_t magnitude =
      negative ? ~static_cast<uint64_t>(units) + 1 : static_cast<uint64_t>(units);
  const uint64_t pow = kPowersOf10[scale];
  // Scale 9 (money) by a constant: a multiply instead of a division on the hot path.
  uint64_t integer = scale == 9 ? magnitude / 1'000'000'000u : magnitude / pow;
  const int frac_groups = (scale + 3) / 4;
  const uint64_t fraction = magnitude - integer * pow;
  const uint64_t pad = kPowersOf10[4 * frac_groups - scale];  // to whole base-10000 digits

  uint16_t digits[10];  // at most 5 integer digits (uint64 < 10000^5) and 5 fraction digits
  uint16_t int_digits[5];
  int int_count = 0;
  while (integer > 0) {
    int_digits[int_count++] = static_cast<uint16_t>(integer % 10000);
    integer /= 10000;
  }
  int n = 0;
  for (int i = int_count - 1; i >= 0; --i) digits[n++] = int_digits[i];
  if (4 * frac_groups <= 19) {  // fraction × pad < 10^19: 64 bits suffice (scale <= 16)
    uint64_t f = fraction * pad;
    for (int g = frac_groups - 1; g >= 0; --g, f /= 10000) {
      digits[n + g] = static_cast<uint16_t>(f % 10000);
    }
  } else {
    unsigned __int128 f = static_cast<unsigned __int128>(fraction) * pad;
    for (int g = frac_groups - 1; g >= 0; --g, f /= 10000) {
      digits[n + g] = static_cast<uint16_t>(f % 10000);
    }
  }
  n += frac_groups;
  int16_t weight = static_cast<int16_t>(int_count - 1);
  // Normalize: no trailing zero digits, and no leading zero digits (which shift the weight).
  while (n > 0 && digits[n - 1] == 0) --n;
  int lead = 0;
  while (lead < n && digits[lead] == 0) {
    ++lead;
    --weight;
  }
  const bool zero = lead == n;
  if (zero) {
    n = 0;
    lead = 0;
    weight = 0;
  }
  const int count = n - lead;
  put32(static_cast<uint32_t>(8 + 2 * count));
  put16(static_cast<uint16_t>(count));
  put16(static_cast<uint16_t>(weight));
  put16(negative && !zero ? kNegative : 0);
  put16(static_cast<uint16_t>(scale));
  for (int i = lead; i < n; ++i) put16(digits[i]);
}

void CopyEncoder::inet(const InetAddress& a) {
  const uint8_t nb = a.v6 ? 16 : 4;
  put32(4u + nb);
  const char head[4] = {static_cast<char>(a.v6 ? 3 : 2),  // PGSQL_AF_INET(6)
                        static_cast<char>(a.v6 ? 128 : 32), 0, static_cast<char>(nb)};
  out_.append(head, 4);
  out_.append(reinterpret_cast<const char*>(a.bytes.data()), nb);
}

}  // namespace sentinel
