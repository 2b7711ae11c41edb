/**
 * Country codes. Vast's `geolocation` is free text ("Washington, US", "California, United
 * States", "Tokyo, JP", ", US"); filters use ISO-3166 alpha-2 codes. This turns either form
 * into a code, or null when it cannot tell.
 */
const ISO_ALPHA2 = new Set(
  (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW " +
    "BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI " +
    "FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN " +
    "IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME " +
    "MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF " +
    "PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV " +
    "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE " +
    "YT ZA ZM ZW"
  ).split(" "),
);

/** Non-ISO spellings hosts use for a code. */
const CODE_ALIASES: Readonly<Record<string, string>> = { UK: "GB", EL: "GR" };

/** Country names seen in geolocations (lower-case) → ISO-2. Deliberately modest. */
const COUNTRY_NAMES: Readonly<Record<string, string>> = {
  "united states": "US",
  "united states of america": "US",
  usa: "US",
  america: "US",
  canada: "CA",
  mexico: "MX",
  germany: "DE",
  deutschland: "DE",
  france: "FR",
  netherlands: "NL",
  "the netherlands": "NL",
  holland: "NL",
  belgium: "BE",
  luxembourg: "LU",
  "united kingdom": "GB",
  "great britain": "GB",
  england: "GB",
  scotland: "GB",
  ireland: "IE",
  sweden: "SE",
  norway: "NO",
  finland: "FI",
  denmark: "DK",
  iceland: "IS",
  estonia: "EE",
  latvia: "LV",
  lithuania: "LT",
  poland: "PL",
  czechia: "CZ",
  "czech republic": "CZ",
  slovakia: "SK",
  hungary: "HU",
  austria: "AT",
  switzerland: "CH",
  spain: "ES",
  portugal: "PT",
  italy: "IT",
  greece: "GR",
  romania: "RO",
  bulgaria: "BG",
  croatia: "HR",
  slovenia: "SI",
  serbia: "RS",
  ukraine: "UA",
  russia: "RU",
  "russian federation": "RU",
  turkey: "TR",
  turkiye: "TR",
  israel: "IL",
  "united arab emirates": "AE",
  "saudi arabia": "SA",
  japan: "JP",
  "south korea": "KR",
  korea: "KR",
  "republic of korea": "KR",
  taiwan: "TW",
  "hong kong": "HK",
  singapore: "SG",
  malaysia: "MY",
  thailand: "TH",
  vietnam: "VN",
  "viet nam": "VN",
  indonesia: "ID",
  philippines: "PH",
  india: "IN",
  china: "CN",
  australia: "AU",
  "new zealand": "NZ",
  brazil: "BR",
  argentina: "AR",
  chile: "CL",
  colombia: "CO",
  peru: "PE",
  "south africa": "ZA",
  nigeria: "NG",
  kenya: "KE",
  egypt: "EG",
};

/** True for an ISO-3166 alpha-2 code (upper-case). */
export function isIsoCountryCode(code: string): boolean {
  return ISO_ALPHA2.has(code);
}

/** A code (any case, `UK` → `GB`) or a known country name → ISO-2; else null. */
export function toCountryCode(text: string | null | undefined): string | null {
  if (!text) return null;
  const trimmed = text.trim();
  if (/^[A-Za-z]{2}$/.test(trimmed)) {
    const upper = trimmed.toUpperCase();
    const code = CODE_ALIASES[upper] ?? upper;
    return ISO_ALPHA2.has(code) ? code : null;
  }
  const name = trimmed.toLowerCase().replace(/\s+/g, " ");
  return Object.hasOwn(COUNTRY_NAMES, name) ? (COUNTRY_NAMES[name] ?? null) : null;
}

/** `country_code` when valid, else the last comma-separated part of `geolocation`. */
export function countryCodeOf(countryCode: string | null, geolocation: string | null): string | null {
  const direct = toCountryCode(countryCode);
  if (direct) return direct;
  if (!geolocation) return null;
  const parts = geolocation.split(",");
  return toCountryCode(parts[parts.length - 1]);
}
