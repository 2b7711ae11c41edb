/**
 * Region groups for offer search. A region is a group name (`US`, `NA`, `EU`, `ASIA`, ...)
 * or any ISO-3166 alpha-2 code; Vast filters `geolocation` by 2-letter codes.
 */
import { isIsoCountryCode } from "./countries";

const EUROPE = [
  "AT",
  "BE",
  "BG",
  "CH",
  "CY",
  "CZ",
  "DE",
  "DK",
  "EE",
  "ES",
  "FI",
  "FR",
  "GB",
  "GR",
  "HR",
  "HU",
  "IE",
  "IS",
  "IT",
  "LI",
  "LT",
  "LU",
  "LV",
  "MT",
  "NL",
  "NO",
  "PL",
  "PT",
  "RO",
  "RS",
  "SE",
  "SI",
  "SK",
  "UA",
] as const;
const EU_MEMBERS = [
  "AT",
  "BE",
  "BG",
  "CY",
  "CZ",
  "DE",
  "DK",
  "EE",
  "ES",
  "FI",
  "FR",
  "GR",
  "HR",
  "HU",
  "IE",
  "IT",
  "LT",
  "LU",
  "LV",
  "MT",
  "NL",
  "PL",
  "PT",
  "RO",
  "SE",
  "SI",
  "SK",
] as const;
const NORTH_AMERICA = ["US", "CA", "MX"] as const;
const ASIA = ["JP", "KR", "TW", "HK", "SG", "MY", "TH", "VN", "ID", "PH", "IN", "CN"] as const;
const OCEANIA = ["AU", "NZ"] as const;
const SOUTH_AMERICA = ["BR", "AR", "CL", "CO", "PE", "UY"] as const;
const MIDDLE_EAST = ["AE", "IL", "SA", "TR", "QA"] as const;
const AFRICA = ["ZA", "NG", "KE", "EG", "MA"] as const;

/**
 * Group name (upper-case, `_`/`-`/spaces removed) → ISO-2 codes. `EU` means geographic Europe.
 * Two-letter group names that are also ISO codes (SA, ME, AF) are avoided, except `NA`, which
 * people mean as North America far more often than Namibia.
 */
export const REGION_GROUPS: Readonly<Record<string, readonly string[]>> = {
  NA: NORTH_AMERICA,
  NORTHAMERICA: NORTH_AMERICA,
  EU: EUROPE,
  EUROPE: EUROPE,
  EUMEMBERS: EU_MEMBERS,
  ASIA,
  APAC: [...ASIA, ...OCEANIA],
  OCEANIA,
  OC: OCEANIA,
  LATAM: [...SOUTH_AMERICA, "MX"],
  SOUTHAMERICA: SOUTH_AMERICA,
  MIDDLEEAST: MIDDLE_EAST,
  AFRICA,
};

/** ISO-2 codes the region stands for; null for an unknown region. */
export function resolveRegion(region: string): readonly string[] | null {
  const key = region.toUpperCase().replace(/[\s_-]+/g, "");
  if (Object.hasOwn(REGION_GROUPS, key)) return REGION_GROUPS[key] ?? null;
  if (key === "UK") return ["GB"];
  if (key.length === 2 && isIsoCountryCode(key)) return [key];
  return null;
}
