# Reference values for nethep/robustness.py, computed with R's survival package.
#
#   adjusted      coxph(Surv(t, d) ~ surgical + islet + liver + age)   (Efron ties)
#                 + the Grambsch-Therneau PH approximation with lifelines' KM transform
#                 + cox.zph(fit, transform = "km") of survival >= 3 (for information)
#   penalized     coxph(... ridge(z, theta = n * 0.1)) on standardized covariates (sample
#                 SD), for a copy of the cohort with every surgical death censored
#                 (separation); eps = 1e-11 so that R, too, reaches the maximum
#   propensity    glm(surgical ~ islet + liver + age, binomial), stabilized weights,
#                 SMDs with cov.wt(method = "unbiased"), Kish effective sample size
#   iptw          coxph(Surv(t, d) ~ surgical, weights = w, robust = TRUE), without and
#                 with weights truncated at their 1st/99th percentiles (quantile type 7)
#   weighted_km   survfit(Surv(t, d) ~ arm, weights = w)
#   landmark      coxph on patients with t > L, exposure surgical & months_to_treatment <= L
#   time_varying  coxph(Surv(start, stop, event) ~ surgical) on rows built by tmerge()
#   rmst          summary(survfit(Surv(t, d) ~ arm), rmean = tau)$table
#
# Usage, from the repository root:
#
#   Rscript tests/reference/make_robustness_reference.R
#
# reads data/cohort.csv and writes tests/reference/robustness.json next to this script.
# No timestamps or paths are written, so re-running it on the same R and survival
# versions gives identical bytes. jsonlite's digits = NA writes 15 significant digits,
# ample for the 1e-6 relative tolerance that tests/test_robustness.py applies.

source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))),
                 "setup.R"))  # survival, jsonlite, script_dir, setwd(script_dir): setup.R
out_path <- "robustness.json"
d <- cohort_frame(read_cohort())
terms <- c("surgical", "islet", "liver", "age")
term_names <- c("surgical", "tumor_type=islet_cell", "liver_involvement_pct", "age_years")

cox_table <- function(fit, names) {
  s <- summary(fit)$coefficients
  ci <- summary(fit)$conf.int
  se_col <- if ("robust se" %in% colnames(s)) "robust se" else "se(coef)"
  lapply(seq_len(nrow(s)), function(i) list(
    term = names[i], coef = unname(s[i, "coef"]), se = unname(s[i, se_col]),
    hr = unname(s[i, "exp(coef)"]), lower = unname(ci[i, "lower .95"]),
    upper = unname(ci[i, "upper .95"]), p = unname(s[i, ncol(s)])
  ))
}

# ---- adjusted Cox --------------------------------------------------------------------
adj <- coxph(Surv(t, d) ~ surgical + islet + liver + age, data = d, ties = "efron")

# Grambsch-Therneau approximation (R survival < 3.0; lifelines proportional_hazard_test):
# T_j = (sum_k g_k* r*_kj)^2 / (D V_jj sum_k g_k*^2), r* = D r V the scaled Schoenfeld
# residuals, g* the centred time transform 1 - KM(t) (KM at t, right-continuous: the
# transform lifelines uses; R < 3.0 used KM just before t).
sch <- residuals(adj, type = "schoenfeld")
death_times <- as.numeric(rownames(sch))
n_deaths <- nrow(sch)
km_all <- survfit(Surv(t, d) ~ 1, data = d)
g <- 1 - summary(km_all, times = death_times)$surv
g <- g - mean(g)
scaled <- n_deaths * sch %*% adj$var
gt_stat <- as.numeric(colSums(g * scaled)^2 / (n_deaths * diag(adj$var) * sum(g^2)))
zph <- cox.zph(adj, transform = "km", terms = FALSE)

# ---- penalized (separation) ------------------------------------------------------------
sep <- d
sep$d[sep$surgical == 1] <- 0
z <- scale(as.matrix(sep[, terms]), center = TRUE, scale = apply(sep[, terms], 2, sd))
penalizer <- 0.1
theta <- nrow(sep) * penalizer
pen <- coxph(Surv(sep$t, sep$d) ~ ridge(z, theta = theta, scale = FALSE), ties = "efron",
             control = coxph.control(eps = 1e-11, iter.max = 100))
sds <- apply(sep[, terms], 2, sd)
pen_coef <- unname(coef(pen) / sds)
pen_se <- unname(sqrt(diag(pen$var)) / sds)

# ---- propensity and weights -------------------------------------------------------------
# propensity_fit, iptw_weights, truncate_weights, smd and kish: setup.R (shared with
# make_iptw_reference.R). Stabilized ATE weights here.
ps_fit <- propensity_fit(d)
pw <- iptw_weights(d, "ATE", ps_fit)
ps <- pw$ps
w <- pw$w
tw <- truncate_weights(w)
q <- tw$bounds
w_trunc <- tw$w

balance <- lapply(c("islet", "liver", "age"), function(v) {
  binary <- v == "islet"
  list(term = term_names[match(v, terms)],
       smd_before = smd(d[[v]], d$surgical, rep(1, nrow(d)), binary),
       smd_after = smd(d[[v]], d$surgical, w, binary))
})

# ---- IPTW Cox and weighted KM -------------------------------------------------------------
iptw <- coxph(Surv(t, d) ~ surgical, data = d, weights = w, robust = TRUE, ties = "efron")
iptw_trunc <- coxph(Surv(t, d) ~ surgical, data = cbind(d, wt = w_trunc), weights = wt,
                    robust = TRUE, ties = "efron")
wkm <- survfit(Surv(t, d) ~ arm, data = cbind(d, wt = w), weights = wt)
wkm_s <- summary(wkm, censored = TRUE)
weighted_km <- lapply(c("surgical", "nonsurgical"), function(a) {
  keep <- wkm_s$strata == paste0("arm=", a)
  list(arm = a, time = wkm_s$time[keep], surv = wkm_s$surv[keep])
})

# ---- landmark -------------------------------------------------------------------------------
landmark <- lapply(c(3, 6), function(L) {
  s <- d[d$t > L, ]
  s$surg_l <- as.numeric(s$surgical == 1 & !is.na(s$mtt) & s$mtt <= L)
  fit <- coxph(Surv(t - L, d) ~ surg_l, data = s, ties = "efron")
  c(list(at_months = L, n = nrow(s), events = sum(s$d), n_surgical = sum(s$surg_l)),
    cox_table(fit, "surgical")[[1]])
})

# ---- time-varying Cox (tmerge builds the counting-process rows) ----------------------------
switch_time <- ifelse(d$surgical == 1 & !is.na(d$mtt) & d$mtt < d$t, d$mtt, NA)
base <- d[, c("id", "t", "d")]
tv <- tmerge(base, base, id = id, death = event(t, d))
tv <- tmerge(tv, data.frame(id = d$id, sw = switch_time), id = id, surgical = tdc(sw))
tv$surgical[is.na(tv$surgical)] <- 0
tv_fit <- coxph(Surv(tstart, tstop, death) ~ surgical, data = tv, ties = "efron")
naive <- coxph(Surv(t, d) ~ surgical, data = d, ties = "efron")

# ---- RMST ----------------------------------------------------------------------------------
km_arm <- survfit(Surv(t, d) ~ arm, data = d)
rmst <- lapply(c(36, 60), function(tau) {
  tab <- summary(km_arm, rmean = tau)$table
  list(tau = tau,
       surgical = unname(tab["arm=surgical", "rmean"]),
       surgical_se = unname(tab["arm=surgical", "se(rmean)"]),
       nonsurgical = unname(tab["arm=nonsurgical", "rmean"]),
       nonsurgical_se = unname(tab["arm=nonsurgical", "se(rmean)"]))
})

out <- list(
  generator = "tests/reference/make_robustness_reference.R",
  r_version_string = R.version.string,
  r_version = paste0(R.version$major, ".", R.version$minor),
  survival_version = as.character(packageVersion("survival")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  adjusted = list(
    terms = cox_table(adj, term_names),
    ph_gt_km = setNames(as.list(gt_stat), term_names),
    cox_zph_v3 = list(chisq = setNames(as.list(unname(zph$table[1:4, "chisq"])),
                                       term_names),
                      p = setNames(as.list(unname(zph$table[1:4, "p"])), term_names))
  ),
  penalized = list(penalizer = penalizer, theta = theta,
                   coef = setNames(as.list(pen_coef), term_names),
                   se = setNames(as.list(pen_se), term_names)),
  propensity = list(
    coef = setNames(as.list(unname(coef(ps_fit))),
                    c("const", term_names[-1])),
    se = setNames(as.list(unname(sqrt(diag(vcov(ps_fit))))), c("const", term_names[-1])),
    ps = ps, weights = w, weights_truncated = w_trunc, truncation_bounds = q,
    balance = balance,
    ess = list(surgical = kish(w[d$surgical == 1]), nonsurgical = kish(w[d$surgical == 0]))
  ),
  iptw = cox_table(iptw, "surgical")[[1]],
  iptw_truncated = cox_table(iptw_trunc, "surgical")[[1]],
  weighted_km = weighted_km,
  landmark = landmark,
  time_varying = c(cox_table(tv_fit, "surgical")[[1]],
                   list(n_intervals = nrow(tv), events = sum(tv$death))),
  naive = cox_table(naive, "surgical")[[1]],
  rmst = rmst
)

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), out_path,
           useBytes = TRUE)
message("wrote ", out_path)
