#include "rows/copy_encoder.h"

namespace sentinel {

void CopyEncoder::numeric_nanos(int64_t nanos) {
  // numeric's binary form: ndigits, weight, sign, dscale, then base-10000 digits, most
  // significant first. The value is split into an integer part and 9 fraction digits, which
  // occupy three base-10000 digits (the last padded with three zeros).
  uint16_t digits[8];
  int n = 0;
  uint64_t integer = static_cast<uint64_t>(nanos) / 1'000'000'000u;
  const uint64_t fraction = static_cast<uint64_t>(nanos) % 1'000'000'000u;
  uint16_t int_digits[5];
  int int_count = 0;
  while (integer > 0) {
    int_digits[int_count++] = static_cast<uint16_t>(integer % 10000);
    integer /= 10000;
  }
  for (int i = int_count - 1; i >= 0; --i) digits[n++] = int_digits[i];
  const uint64_t scaled = fraction * 1000;  // 12 decimal digits
  digits[n++] = static_cast<uint16_t>(scaled / 100'000'000);
  digits[n++] = static_cast<uint16_t>(scaled / 10'000 % 10'000);
  digits[n++] = static_cast<uint16_t>(scaled % 10'000);
  int16_t weight = static_cast<int16_t>(int_count - 1);
  // Normalize: no trailing zero digits, and no leading zero digits (which shift the weight).
  while (n > 0 && digits[n - 1] == 0) --n;
  int lead = 0;
  while (lead < n && digits[lead] == 0) {
    ++lead;
    --weight;
  }
  if (lead == n) {  // zero
    n = 0;
    lead = 0;
    weight = 0;
  }
  const int count = n - lead;
  put32(static_cast<uint32_t>(8 + 2 * count));
  put16(static_cast<uint16_t>(count));
  put16(static_cast<uint16_t>(weight));
  put16(0);  // sign: positive
  put16(9);  // dscale
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
