/**
 * How an offer looks in a search answer: the stored fields plus the price fields that depend on
 * the query (`allocated_storage`, on-demand vs bid), computed the way Vast documents them:
 * `dph_total = dph_base + allocated_storage × storage_cost / 720`.
 */
import type { SimOffer } from "./marketplace";

export type OfferView = SimOffer & Record<string, unknown>;

export interface PriceContext {
  allocatedStorageGb: number;
  isBid: boolean;
}

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

export function renderOffer(offer: SimOffer, ctx: PriceContext): OfferView {
  const gpuHour = ctx.isBid ? offer.min_bid : offer.dph_base;
  const diskHour = round6((ctx.allocatedStorageGb * offer.storage_cost) / 720);
  const total = round6(gpuHour + diskHour);
  return {
    ...offer,
    ask_contract_id: offer.id,
    bundle_id: offer.id + 1_000_000,
    bundled_results: 0,
    is_bid: ctx.isBid,
    dph_base: offer.dph_base,
    dph_total: total,
    dph_total_adj: total,
    discounted_dph_total: total,
    discount_rate: 0,
    discounted_hourly: 0,
    vram_costperhour: round6(gpuHour / (offer.gpu_total_ram / 1024)),
    storage_total_cost: diskHour,
    internet_up_cost_per_tb: round6(offer.inet_up_cost * 1000),
    internet_down_cost_per_tb: round6(offer.inet_down_cost * 1000),
    platform_fee: 0,
    dlperf_per_dphtotal: round6(offer.dlperf / total),
    flops_per_dphtotal: round6(offer.total_flops / total),
    expected_reliability: offer.reliability2,
    vericode: offer.verified ? 1 : 0,
    is_vm_deverified: false,
    time_remaining: null,
    time_remaining_isbid: null,
    resource_type: "gpu",
    logo: "/static/logos/vastai_small2.png",
    webpage: null,
    rn: null,
    avail_vol_ask_id: null,
    avail_vol_dph: null,
    avail_vol_size: null,
    search: {
      gpuCostPerHour: gpuHour,
      diskHour,
      totalHour: total,
      discountTotalHour: 0,
      discountedTotalPerHour: total,
    },
    instance: {
      gpuCostPerHour: gpuHour,
      diskHour,
      totalHour: total,
      discountTotalHour: 0,
      discountedTotalPerHour: total,
    },
  };
}
