/**
 * The generated marketplace: a few hundred offers (asks) across GPU models, counts and
 * countries, deterministic from a seed. Offers are single-use: renting one takes it, and
 * destroying the instance puts the machine back on the market under a new ask id.
 */
import { GPU_MODELS, LOCATIONS, pickWeighted } from "./gpu-catalog";
import { createRng, type Rng } from "./random";

/** A marketplace offer with Vast's raw field names. Price fields that depend on the query are added at render time. */
export interface SimOffer {
  id: number;
  machine_id: number;
  host_id: number;
  num_gpus: number;
  gpu_name: string;
  gpu_ram: number;
  gpu_total_ram: number;
  gpu_frac: number;
  gpu_arch: string;
  gpu_mem_bw: number;
  gpu_max_power: number;
  gpu_max_temp: number;
  gpu_lanes: number;
  gpu_display_active: boolean;
  compute_cap: number;
  cuda_max_good: number;
  driver_version: string;
  driver_vers: number;
  bw_nvlink: number;
  cpu_name: string;
  cpu_cores: number;
  cpu_cores_effective: number;
  cpu_ghz: number;
  cpu_ram: number;
  cpu_arch: string;
  has_avx: number;
  disk_space: number;
  disk_bw: number;
  disk_name: string;
  inet_up: number;
  inet_down: number;
  inet_up_cost: number;
  inet_down_cost: number;
  direct_port_count: number;
  public_ipaddr: string;
  static_ip: boolean;
  pci_gen: number;
  pcie_bw: number;
  mobo_name: string;
  os_version: string;
  ubuntu_version: string;
  dph_base: number;
  min_bid: number;
  storage_cost: number;
  credit_discount_max: number;
  dlperf: number;
  total_flops: number;
  reliability: number;
  reliability2: number;
  reliability_mult: number;
  verification: "verified" | "unverified" | "deverified";
  verified: boolean;
  external: boolean;
  rentable: boolean;
  rented: boolean;
  datacenter: boolean;
  hosting_type: number;
  hostname: string | null;
  geolocation: string | null;
  geolocode: number | null;
  country_code: string | null;
  vms_enabled: boolean;
  start_date: number;
  end_date: number;
  duration: number;
  cluster_id: number | null;
  score: number;
}

export interface MarketplaceOptions {
  seed: number;
  /** Number of offers; default 300. */
  size?: number;
  /** Simulated epoch ms at generation, for start/end dates. */
  nowMs: number;
}

const CPUS = [
  { name: "AMD EPYC 7543 32-Core Processor", cores: 64, ghz: 3.7 },
  { name: "AMD Ryzen 9 7950X 16-Core Processor", cores: 32, ghz: 5.1 },
  { name: "Intel Xeon Gold 6338 CPU", cores: 64, ghz: 3.2 },
  { name: "AMD EPYC 9554 64-Core Processor", cores: 128, ghz: 3.1 },
  { name: "Intel Core i9-13900K", cores: 32, ghz: 5.8 },
];
const MOBOS = ["ROMED8-2T", "H12SSL-i", "PRO WS WRX80E-SAGE SE WIFI", "X13DEG-OA", "B650M"];

/** A driver that supports `cuda` (and no newer major): 580 for CUDA 13, 570 for 12.8, … */
function driverFor(cuda: number): { version: string; number: number } {
  if (cuda >= 13) return { version: "580.95.05", number: 580095005 };
  if (cuda >= 12.8) return { version: "570.144.0", number: 570144000 };
  if (cuda >= 12.4) return { version: "550.127.05", number: 550127005 };
  return { version: "535.86.05", number: 535086005 };
}

function generateOffer(rng: Rng, index: number, nowMs: number): SimOffer {
  const model = pickWeighted(GPU_MODELS, rng.next());
  const location = pickWeighted(LOCATIONS, rng.next());
  const numGpus = rng.pick(model.counts);
  const gpuRam = rng.pick(model.ramValues);
  const cpu = rng.pick(CPUS);
  const perGpu = rng.float(model.pricePerGpu[0], model.pricePerGpu[1], 3);
  const dphBase = Math.round(perGpu * numGpus * 1000) / 1000;
  const reliability = rng.float(0.9, 0.9999, 4);
  const verified = rng.chance(0.82);
  const datacenter = rng.chance(0.25);
  // Half the hosts run a driver for CUDA 13 (≥ 580), as ai-toolkit's image needs; the rest are older.
  const cuda = rng.pick([11.8, 12.4, 12.8, 13.0, 13.0, 13.0, 13.0, 13.0, 13.1, 13.1, 13.1, 13.2]);
  const machineId = 10_000 + index * 7 + rng.int(0, 6);
  const dlperf = Math.round(model.dlperf * numGpus * rng.float(0.85, 1.05, 3) * 100) / 100;
  const durationSec = rng.int(3, 180) * 86_400;
  // A few hosts report a country code the free text does not carry, a few the other way round.
  const countryCode = rng.chance(0.05) ? null : location.countryCode;
  return {
    id: 0,
    machine_id: machineId,
    host_id: 100_000 + rng.int(0, 120) * 13,
    num_gpus: numGpus,
    gpu_name: model.name,
    gpu_ram: gpuRam,
    gpu_total_ram: gpuRam * numGpus,
    gpu_frac: 1,
    gpu_arch: model.arch,
    gpu_mem_bw: model.memBw,
    gpu_max_power: model.maxPower,
    gpu_max_temp: rng.pick([83, 87, 90]),
    gpu_lanes: rng.pick([8, 16]),
    gpu_display_active: false,
    compute_cap: model.computeCap,
    cuda_max_good: cuda,
    driver_version: driverFor(cuda).version,
    driver_vers: driverFor(cuda).number,
    bw_nvlink: numGpus > 1 && model.name.includes("SXM") ? 600 : 0,
    cpu_name: cpu.name,
    cpu_cores: cpu.cores,
    cpu_cores_effective: Math.round((cpu.cores * numGpus) / 8) || 4,
    cpu_ghz: cpu.ghz,
    cpu_ram: rng.pick([64_000, 128_000, 257_000, 515_000]),
    cpu_arch: "amd64",
    has_avx: 1,
    disk_space: rng.pick([50, 100, 200, 500, 1000, 2000]) + rng.float(0, 40, 1),
    disk_bw: rng.float(800, 6000, 1),
    disk_name: rng.pick(["Samsung SSD 980 PRO 2TB", "nvme", "WD_BLACK SN850X 2TB", "Micron 7450"]),
    inet_up: rng.float(50, 2000, 1),
    inet_down: rng.float(100, 5000, 1),
    inet_up_cost: rng.float(0, 0.02, 4),
    inet_down_cost: rng.float(0, 0.02, 4),
    direct_port_count: rng.chance(0.9) ? rng.int(10, 500) : 0,
    public_ipaddr: `${rng.int(23, 213)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`,
    static_ip: rng.chance(0.6),
    pci_gen: rng.pick([3, 4, 4, 5]),
    pcie_bw: rng.float(10, 50, 1),
    mobo_name: rng.pick(MOBOS),
    os_version: rng.pick(["22.04", "24.04", "20.04"]),
    ubuntu_version: "22.04",
    dph_base: dphBase,
    min_bid: Math.round(dphBase * rng.float(0.35, 0.7, 3) * 1000) / 1000,
    storage_cost: rng.pick([0.1, 0.15, 0.2, 0.25, 0.3]),
    credit_discount_max: 0.4,
    dlperf,
    total_flops: Math.round(model.tflops * numGpus * 100) / 100,
    reliability,
    reliability2: reliability,
    reliability_mult: rng.float(0.9, 1, 3),
    verification: verified ? "verified" : rng.chance(0.2) ? "deverified" : "unverified",
    verified,
    external: rng.chance(0.08),
    rentable: rng.chance(0.97),
    rented: false,
    datacenter,
    hosting_type: datacenter ? 1 : 0,
    hostname: null,
    geolocation: location.geolocation,
    geolocode: location.countryCode ? rng.int(1000, 99999) : null,
    country_code: countryCode,
    vms_enabled: rng.chance(0.3),
    start_date: Math.floor(nowMs / 1000) - rng.int(1, 400) * 3600,
    end_date: Math.floor(nowMs / 1000) + durationSec,
    duration: durationSec,
    cluster_id: datacenter && rng.chance(0.5) ? rng.int(1, 40) : null,
    score: Math.round(dlperf * reliability * 100) / 100,
  };
}

export class Marketplace {
  private readonly offers = new Map<number, SimOffer>();
  private nextAskId: number;

  constructor(options: MarketplaceOptions) {
    const rng = createRng(options.seed);
    this.nextAskId = 8_000_000 + rng.int(0, 99_999) * 10;
    const size = options.size ?? 300;
    for (let i = 0; i < size; i++) this.add(generateOffer(rng, i, options.nowMs));
  }

  private add(offer: SimOffer): SimOffer {
    const listed = { ...offer, id: this.nextAskId, rented: false };
    this.nextAskId += rng32Step(this.nextAskId);
    this.offers.set(listed.id, listed);
    return listed;
  }

  all(): SimOffer[] {
    return [...this.offers.values()];
  }

  get(id: number): SimOffer | undefined {
    return this.offers.get(id);
  }

  /** Marks the ask taken. Returns false if it was not available. */
  take(id: number): boolean {
    const offer = this.offers.get(id);
    if (!offer || offer.rented || !offer.rentable) return false;
    offer.rented = true;
    return true;
  }

  /** Puts a machine back on the market under a new ask id (asks are single use). */
  relist(offer: SimOffer): SimOffer {
    return this.add(offer);
  }
}

/** Ask ids grow with small deterministic gaps, as on Vast where other renters' asks interleave. */
function rng32Step(n: number): number {
  return 1 + (Math.imul(n, 2654435761) >>> 29);
}
