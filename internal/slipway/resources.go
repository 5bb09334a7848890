package slipway

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Resources are the memory and CPU a component's process (each replica)
// may use.
type Resources struct {
	// MemoryBytes is the memory limit in bytes.
	MemoryBytes int64
	// MilliCPU is the CPU limit in thousandths of a core (500 = half a
	// core).
	MilliCPU int64
}

// String returns r as Kubernetes quantities, e.g. "memory 512Mi, cpu 500m".
func (r Resources) String() string {
	return "memory " + FormatMemory(r.MemoryBytes) + ", cpu " + FormatCPU(r.MilliCPU)
}

// Resources returns the memory and CPU a component with these run fields
// gets: what Memory and CPU say, and defaults (the server's) for what they
// leave unset.
//
// A tool config is checked when it is stored, so Memory and CPU are valid
// quantities; a value that is not (one an older Slipway stored) counts as
// unset too. SpecHash does not change: it hashes the strings as written.
func (r RunSpec) Resources(defaults Resources) Resources {
	out := defaults
	if m, err := ParseMemory(r.Memory); r.Memory != "" && err == nil {
		out.MemoryBytes = m
	}
	if c, err := ParseCPU(r.CPU); r.CPU != "" && err == nil {
		out.MilliCPU = c
	}
	return out
}

// Quantities are Kubernetes' resource.Quantity strings, as Toolforge's jobs
// API takes them:
//
//	<quantity> ::= <sign>? <number> <suffix>
//	<number>   ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
//	<suffix>   ::= "" | Ki | Mi | Gi | Ti | Pi | Ei        (powers of 1024)
//	             | n | u | m | k | M | G | T | P | E       (powers of 1000)
//	             | e<sign>?<digits> | E<sign>?<digits>     (powers of 10)
//
// Kubernetes rounds a quantity up to its smallest unit, and so do
// ParseMemory (to a byte) and ParseCPU (to a millicore). Departures, all of
// which make a mistake an error rather than a process that cannot run:
// zero and negative quantities are refused, a memory quantity may not use
// the suffixes m, u and n (512m is half a byte, almost always meant as
// 512Mi), and a quantity is at most 64 characters. The exponent forms are
// accepted, as Kubernetes (and Python's Decimal, which Toolforge parses
// with) accept them.

// MaxQuantityLength is the longest quantity string ParseMemory and
// ParseCPU accept.
const MaxQuantityLength = 64

// quantity is a parsed quantity: mantissa × 10^exp10 × 1024^exp1024, with a
// non-negative mantissa (neg holds the sign).
type quantity struct {
	neg      bool
	mantissa *big.Int
	exp10    int64
	exp1024  int64
	suffix   string
}

var binarySuffixes = map[string]int64{"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}

var decimalSuffixes = map[string]int64{"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

var errQuantitySyntax = errors.New("not a quantity")

// parseQuantity parses s by the grammar above.
func parseQuantity(s string) (quantity, error) {
	var q quantity
	if s == "" || len(s) > MaxQuantityLength {
		return q, errQuantitySyntax
	}
	rest := s
	switch rest[0] {
	case '+':
		rest = rest[1:]
	case '-':
		q.neg, rest = true, rest[1:]
	}
	intPart := leadingDigits(rest)
	rest = rest[len(intPart):]
	var frac string
	if strings.HasPrefix(rest, ".") {
		frac = leadingDigits(rest[1:])
		rest = rest[1+len(frac):]
	}
	if intPart == "" && frac == "" {
		return q, errQuantitySyntax
	}
	q.mantissa, _ = new(big.Int).SetString(intPart+frac, 10) // only digits, at least one
	q.exp10 = -int64(len(frac))
	q.suffix = rest
	if n, ok := binarySuffixes[rest]; ok {
		q.exp1024 = n
		return q, nil
	}
	if n, ok := decimalSuffixes[rest]; ok {
		q.exp10 += n
		return q, nil
	}
	if rest[0] != 'e' && rest[0] != 'E' {
		return q, errQuantitySyntax
	}
	exp := rest[1:]
	digits := strings.TrimPrefix(strings.TrimPrefix(exp, "+"), "-")
	if digits == "" || leadingDigits(digits) != digits {
		return q, errQuantitySyntax
	}
	// At most 64 characters, so the exponent fits in an int64 unless it
	// has more than 18 digits: then it is far out of range either way.
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		n = math.MaxInt32
		if strings.HasPrefix(exp, "-") {
			n = math.MinInt32
		}
	}
	q.exp10 += n
	return q, nil
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// ceilInt64 returns q × 10^shift rounded up to an integer, and false when
// that does not fit in an int64. q is positive.
func (q quantity) ceilInt64(shift int64) (int64, bool) {
	exp := q.exp10 + shift
	switch {
	case exp > 40:
		return 0, false // at least 10^40 with a mantissa of at least 1
	case exp < -200:
		return 1, true // a positive amount below the unit rounds up to it
	}
	num := new(big.Int).Set(q.mantissa)
	num.Lsh(num, uint(10*q.exp1024))
	den := big.NewInt(1)
	ten := big.NewInt(10)
	if exp >= 0 {
		num.Mul(num, new(big.Int).Exp(ten, big.NewInt(exp), nil))
	} else {
		den.Exp(ten, big.NewInt(-exp), nil)
	}
	v, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	if rem.Sign() != 0 {
		v.Add(v, big.NewInt(1))
	}
	if !v.IsInt64() {
		return 0, false
	}
	return v.Int64(), true
}

// ParseMemory parses a memory quantity ("512Mi", "1Gi", "1.5G", "1e9")
// into bytes, rounded up to a whole byte. The error says what is wrong and
// what would be valid, naming the field "memory".
func ParseMemory(s string) (bytes int64, err error) {
	q, err := parseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("memory must be a Kubernetes quantity: a number of bytes with an optional suffix Ki, Mi, Gi, Ti, Pi or Ei (powers of 1024) or k, M, G, T, P or E (powers of 1000), such as \"512Mi\" or \"1Gi\", got %q%s", s, memoryHint(s))
	}
	switch q.suffix {
	case "m", "u", "n":
		return 0, fmt.Errorf("memory must be a number of bytes, got %q, which counts %s of a byte: did you mean %q?",
			s, map[string]string{"m": "thousandths", "u": "millionths", "n": "billionths"}[q.suffix], strings.TrimSuffix(s, q.suffix)+"Mi")
	}
	if q.neg || q.mantissa.Sign() == 0 {
		return 0, fmt.Errorf("memory must be more than 0, got %q", s)
	}
	b, ok := q.ceilInt64(0)
	if !ok {
		return 0, fmt.Errorf("memory must be less than 8Ei (2^63 bytes), got %q", s)
	}
	return b, nil
}

// memoryHint returns a hint for the usual ways of writing a memory size
// that are not quantities: "512MB", "1GiB", "512K".
func memoryHint(s string) string {
	num := strings.TrimRight(s, "KMGTPEkiB")
	if num == s || num == "" {
		return ""
	}
	if _, err := parseQuantity(num); err != nil {
		return ""
	}
	unit := strings.ToUpper(strings.TrimSuffix(strings.TrimSuffix(s[len(num):], "B"), "i"))
	switch unit {
	case "K", "M", "G", "T", "P", "E":
	default:
		return ""
	}
	dec := unit
	if unit == "K" {
		dec = "k"
	}
	return fmt.Sprintf(": did you mean %q (powers of 1024) or %q (powers of 1000)?", num+unit+"i", num+dec)
}

// ParseCPU parses a CPU quantity ("1", "0.5", "500m", "1e-1") into
// millicores, rounded up to a whole millicore. The error says what is wrong
// and what would be valid, naming the field "cpu".
func ParseCPU(s string) (milliCPU int64, err error) {
	q, err := parseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("cpu must be a Kubernetes quantity: a number of cores such as \"1\" or \"0.5\", or of millicores such as \"500m\", got %q", s)
	}
	if q.neg || q.mantissa.Sign() == 0 {
		return 0, fmt.Errorf("cpu must be more than 0, got %q", s)
	}
	m, ok := q.ceilInt64(3)
	if !ok {
		return 0, fmt.Errorf("cpu must be less than 2^63 millicores, got %q", s)
	}
	return m, nil
}

// FormatCPU returns millicores as a quantity: whole cores ("2") when it is a
// whole number of them, else millicores ("1500m").
func FormatCPU(milliCPU int64) string {
	if milliCPU%1000 == 0 {
		return strconv.FormatInt(milliCPU/1000, 10)
	}
	return strconv.FormatInt(milliCPU, 10) + "m"
}

// Times returns r for n replicas: each field times n, stopping at
// math.MaxInt64 instead of overflowing (a config may ask for any number).
func (r Resources) Times(n int) Resources {
	return Resources{MemoryBytes: satMul(r.MemoryBytes, n), MilliCPU: satMul(r.MilliCPU, n)}
}

// Plus returns r and o together, stopping at math.MaxInt64.
func (r Resources) Plus(o Resources) Resources {
	return Resources{MemoryBytes: satAdd(r.MemoryBytes, o.MemoryBytes), MilliCPU: satAdd(r.MilliCPU, o.MilliCPU)}
}

// satMul and satAdd are × and + on non-negative numbers, stopping at
// math.MaxInt64 instead of overflowing.
func satMul(a int64, n int) int64 {
	if n > 0 && a > math.MaxInt64/int64(n) {
		return math.MaxInt64
	}
	return a * int64(n)
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
