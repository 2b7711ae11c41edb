export {
  describeOfferSearch,
  type JobOfferConstraints,
  type JobOfferSearch,
  jobOfferSearch,
} from "./job-search";
export { type RankOptions, rankOffers } from "./rank";
