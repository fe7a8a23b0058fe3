# Reference values for nethep/permutation.py, computed with R's coin package.
#
#   coin:::logrank_trafo(Surv(time, event))        log-rank scores (default ties.method
#                                                 "mid-ranks", logrank weights)
#   logrank_test(Surv(time, event) ~ factor(g))    asymptotic: Z (2 groups, for the first
#                                                 factor level) or chi-squared (k groups),
#                                                 linear statistic, expectation, variance, P
#   distribution = approximate(nresample = 1e5)   Monte Carlo P (set.seed(20061001)): a
#                                                 random quantity, so tests compare it with
#                                                 nethep's within 4 Monte Carlo SE only
#   distribution = "exact"                        exact P (van de Wiel split-up algorithm,
#                                                 exact for real-valued scores), small sets
#
# Usage, from the repository root:
#
#   Rscript tests/reference/make_coin_reference.R
#
# reads data/cohort.csv (../../data/cohort.csv relative to this script) and writes
# tests/reference/coin.json next to this script. Every data set is written into the JSON
# with its results, so the Python tests recompute on exactly these numbers. The output
# holds no timestamps or paths; re-running it with the same R and coin versions gives
# identical bytes. jsonlite's digits = NA writes up to 15 significant digits.

source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))),
                 "setup.R"))  # survival, jsonlite, script_dir, setwd(script_dir): setup.R
suppressPackageStartupMessages(library(coin))
out_path <- "coin.json"

nresample <- 1e5
seed <- 20061001L

cohort <- read_cohort()
cohort$arm <- ifelse(cohort$treatment_group == "surgical", "surgical", "nonsurgical")

# One data set: times, events (0/1) and group labels; levels sorted as R's factor() does.
make_set <- function(name, time, event, group) {
  list(name = name, time = as.numeric(time), event = as.integer(event),
       group = as.character(group))
}

asymptotic <- function(s) {
  g <- factor(s$group)
  y <- Surv(s$time, s$event)
  lt <- logrank_test(y ~ g, distribution = "asymptotic")
  out <- list(
    name = s$name,
    time = s$time, event = s$event, group = s$group,
    levels = levels(g),
    scores = as.numeric(coin:::logrank_trafo(y)),
    statistic = as.numeric(statistic(lt)),
    statistic_type = if (nlevels(g) == 2L) "Z (first level)" else "chi-squared",
    linear_statistic = as.numeric(statistic(lt, type = "linear")),
    expectation = as.numeric(expectation(lt)),
    variance = if (nlevels(g) == 2L) as.numeric(variance(lt)) else NULL,
    p_asymptotic = as.numeric(pvalue(lt))
  )
  out[!vapply(out, is.null, NA)]
}

with_approximate <- function(s) {
  out <- asymptotic(s)
  g <- factor(s$group)
  y <- Surv(s$time, s$event)
  set.seed(seed)
  la <- logrank_test(y ~ g, distribution = approximate(nresample = nresample))
  out$p_monte_carlo <- as.numeric(pvalue(la))
  out$monte_carlo_nresample <- nresample
  out$monte_carlo_seed <- seed
  out$monte_carlo_note <- paste(
    "Monte Carlo P from coin's own random permutations (R's Mersenne-Twister,",
    "set.seed(20061001)); compare within 4 Monte Carlo SE, not digit for digit")
  out
}

with_exact <- function(s) {
  out <- asymptotic(s)
  g <- factor(s$group)
  y <- Surv(s$time, s$event)
  le <- logrank_test(y ~ g, distribution = "exact")
  out$p_exact <- as.numeric(pvalue(le))
  out$exact_algorithm <- "van de Wiel split-up (coin's choice for real-valued scores)"
  out
}

surg <- which(cohort$arm == "surgical")
nons <- which(cohort$arm == "nonsurgical")
sub16 <- c(surg[1:8], nons[1:8])
sub20 <- c(surg[1:10], nons[1:10])

cohort_arm <- make_set("cohort arm (surgical vs nonsurgical)",
                       cohort$followup_months, cohort$died, cohort$arm)
cohort_group <- make_set("cohort treatment_group (3 groups)",
                         cohort$followup_months, cohort$died, cohort$treatment_group)

small_sets <- list(
  # Hand-made: tied event times, an event and a censoring at the same time, 5 vs 7.
  make_set("n12 ties",
           c(2, 3, 3, 5, 5, 5, 8, 9, 12, 12, 15, 20),
           c(1, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0, 1),
           c("a", "b", "a", "b", "b", "a", "b", "a", "b", "a", "a", "b")),
  # Integer months with heavy ties and an unbalanced 4 vs 10 split.
  make_set("n14 unbalanced",
           c(1, 2, 2, 4, 4, 4, 6, 7, 7, 10, 10, 12, 12, 12),
           c(1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 0, 1, 0),
           c("x", "y", "y", "y", "x", "y", "y", "y", "x", "y", "y", "x", "y", "y")),
  make_set("cohort first 8 surgical + first 8 nonsurgical",
           cohort$followup_months[sub16], cohort$died[sub16], cohort$arm[sub16]),
  make_set("cohort first 10 surgical + first 10 nonsurgical",
           cohort$followup_months[sub20], cohort$died[sub20], cohort$arm[sub20])
)

three_group_small <- make_set(
  "n15 three groups",
  c(1.5, 2, 3, 3, 4.5, 6, 6, 7, 8, 9.5, 11, 12, 14, 15, 18),
  c(1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0),
  c("p", "q", "r", "p", "p", "q", "r", "q", "p", "r", "q", "r", "r", "p", "q"))

out <- list(
  generator = "tests/reference/make_coin_reference.R",
  r_version_string = R.version.string,
  r_version = paste0(R.version$major, ".", R.version$minor),
  r_svn_rev = R.version[["svn rev"]],
  survival_version = as.character(packageVersion("survival")),
  coin_version = as.character(packageVersion("coin")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  sqrt_eps = sqrt(.Machine$double.eps),
  cohort_arm = with_approximate(cohort_arm),
  cohort_treatment_group = with_approximate(cohort_group),
  exact = lapply(small_sets, with_exact),
  three_group_small = asymptotic(three_group_small)
)

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           out_path, useBytes = TRUE)
message("wrote ", out_path)
