package gen

// Name pools. ASCII names make the common case; the "awkward" pools hold what breaks naive
// code: right-to-left scripts, CJK, combining marks, emoji (astral plane), apostrophes and
// hyphens, and names that are empty-looking after trimming.
var (
	givenNames = []string{
		"Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Iris", "Jack",
		"Kara", "Liam", "Maya", "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Sam", "Tara",
		"Umar", "Vera", "Will", "Xena", "Yusuf", "Zoe", "Aiko", "Bruno", "Camille", "Diego",
		"Elena", "Farid", "Greta", "Hana", "Ivan", "Julia", "Kenji", "Lea", "Marco", "Nina",
		"Oscar", "Priya", "Rafael", "Sofia", "Theo", "Ursula", "Victor", "Wen", "Yara", "Amir",
	}
	familyNames = []string{
		"Smith", "Johnson", "Garcia", "Martin", "Bernard", "Dubois", "Tanaka", "Suzuki", "Mueller",
		"Schmidt", "Rossi", "Russo", "Kowalski", "Nowak", "Silva", "Santos", "Kim", "Lee",
		"Nguyen", "Tran", "Ivanova", "Petrov", "Haddad", "Cohen", "Larsen", "Jensen", "Moreau",
		"Laurent", "Okafor", "Mensah", "Patel", "Sharma", "Chen", "Wang", "Fischer", "Weber",
		"Novak", "Horvat", "Costa", "Ferreira", "Yilmaz", "Demir", "Andersson", "Berg", "Murphy",
		"Kelly", "Walsh", "Brennan", "Lopez", "Hernandez",
	}
	awkwardGiven = []string{
		"محمد", "فاطمة", "דוד", "שׂרה", "王", "さくら", "Zoë", "Jose\u0301", "Ægir", "Łukasz",
		"Nguyễn", "Ὀδυσσεύς", "🦊 Fox", "Ana-María", "D'Arcy", "Søren", "Ngozi\u200d", "Ðorđe",
	}
	awkwardFamily = []string{
		"العربي", "כהן", "李", "山田", "O'Brien", "Müller-Lüdenscheidt", "van der Berg",
		"Å\u030angström", "Öztürk", "🚀", "Strauß", "Đặng", "Καραμανλής", "Ñúñez",
	}
	emailDomains = []string{"example.com", "example.org", "example.net", "mail.example.com", "corp.example"}
	plans        = []string{"free", "pro", "team", "enterprise"}
	languages    = []string{"en", "fr", "ja", "de", "es", "pt-BR", "ar"}
	themes       = []string{"light", "dark", "system"}
	colors       = []string{"teal", "red", "blue", "amber", "violet"}
	departments  = []string{"Engineering", "Sales", "Support", "Finance", "Legal", "Marketing"}
	titles       = []string{"Engineer", "Manager", "Analyst", "Director", "Designer", "Agent"}
	loremWords   = []string{
		"lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed",
		"do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna",
		"aliqua", "enim", "ad", "minim", "veniam", "quis", "nostrud", "exercitation", "ullamco",
	}
)

// appendLorem appends words until at least n bytes were added.
func appendLorem(dst []byte, r *rng, n int) []byte {
	start := len(dst)
	for len(dst)-start < n {
		if len(dst) > start {
			dst = append(dst, ' ')
		}
		dst = append(dst, pick(r, loremWords)...)
	}
	return dst
}

// asciiSlug lowercases the ASCII letters of s and drops everything else, for usernames
// and email local parts; a name with no ASCII letter falls back to "user".
func appendSlug(dst []byte, s string) []byte {
	n := len(dst)
	for k := 0; k < len(s); k++ {
		c := s[k]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			dst = append(dst, c)
		case c >= 'A' && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		}
	}
	if len(dst) == n {
		dst = append(dst, "user"...)
	}
	return dst
}
