//! Rollout arithmetic without I/O: surge and unavailability bounds, how far to scale the new
//! ReplicaSet up and the old ones down, and proportional scaling of a mid-rollout resize.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::DeploymentStrategy;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RolloutError {
    #[error("invalid value {0:?}: must be an integer or a percentage")]
    BadIntOrPercent(String),
}

/// What the rollout code needs to know of one ReplicaSet.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RsView {
    pub name: String,
    pub spec_replicas: i32,
    pub status_replicas: i32,
    pub ready: i32,
    pub available: i32,
    pub created: Option<Timestamp>,
    /// `deployment.kubernetes.io/desired-replicas` at the last scale.
    pub desired_annotation: Option<i32>,
    /// `deployment.kubernetes.io/max-replicas` at the last scale.
    pub max_annotation: Option<i32>,
}

/// How far a rolling update may go above the desired count and below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub surge: i32,
    pub unavailable: i32,
}

/// Resolves maxSurge (rounded up) and maxUnavailable (rounded down) against `replicas`, with
/// upstream's defaults of 25% each; Recreate allows neither. Both zero would stall a rollout, so
/// one pod may then be unavailable.
pub fn bounds(
    strategy: Option<&DeploymentStrategy>,
    replicas: i32,
) -> Result<Bounds, RolloutError> {
    if is_recreate(strategy) {
        return Ok(Bounds {
            surge: 0,
            unavailable: 0,
        });
    }
    let ru = strategy.and_then(|s| s.rolling_update.as_ref());
    let quarter = IntOrString::String("25%".into());
    let surge = scaled(
        ru.and_then(|r| r.max_surge.as_ref()).unwrap_or(&quarter),
        replicas,
        true,
    )?;
    let mut unavailable = scaled(
        ru.and_then(|r| r.max_unavailable.as_ref())
            .unwrap_or(&quarter),
        replicas,
        false,
    )?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Ok(Bounds {
        surge,
        unavailable: unavailable.min(replicas.max(0)),
    })
}

pub fn is_recreate(strategy: Option<&DeploymentStrategy>) -> bool {
    strategy.and_then(|s| s.type_.as_deref()) == Some("Recreate")
}

fn scaled(v: &IntOrString, total: i32, round_up: bool) -> Result<i32, RolloutError> {
    match v {
        IntOrString::Int(i) => Ok((*i).max(0)),
        IntOrString::String(s) => {
            let pct: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .filter(|p| *p >= 0)
                .ok_or_else(|| RolloutError::BadIntOrPercent(s.clone()))?;
            let num = pct * i64::from(total.max(0));
            let v = if round_up {
                (num + 99) / 100
            } else {
                num / 100
            };
            Ok(i32::try_from(v).unwrap_or(i32::MAX))
        }
    }
}

/// The size the new ReplicaSet should grow to now: straight to `replicas` under Recreate, else as
/// far as the surge allows over all sets' current sizes.
pub fn new_rs_target(
    replicas: i32,
    bounds: Bounds,
    recreate: bool,
    new_rs: i32,
    all_spec_total: i32,
) -> i32 {
    if recreate {
        return replicas;
    }
    if new_rs >= replicas {
        return replicas;
    }
    let max_total = replicas + bounds.surge;
    if all_spec_total >= max_total {
        return new_rs;
    }
    let up = (max_total - all_spec_total).min(replicas - new_rs);
    new_rs + up
}

/// New sizes for old ReplicaSets during a rolling update: unhealthy pods go first (they cost no
/// availability), then available ones as long as `replicas - unavailable` stay available.
/// Returns `(name, new size)` for each set that shrinks.
pub fn old_rs_targets(
    replicas: i32,
    bounds: Bounds,
    new_rs: &RsView,
    old: &[RsView],
) -> Vec<(String, i32)> {
    let old_total: i32 = old.iter().map(|r| r.spec_replicas).sum();
    if old_total == 0 {
        return Vec::new();
    }
    let all_total = old_total + new_rs.spec_replicas;
    let min_available = replicas - bounds.unavailable;
    let new_unavailable = (new_rs.spec_replicas - new_rs.available).max(0);
    let max_scale_down = all_total - min_available - new_unavailable;
    if max_scale_down <= 0 {
        return Vec::new();
    }
    let mut sets: Vec<RsView> = old.to_vec();
    sets.sort_by(oldest_first);
    let mut cleaned = 0;
    for rs in sets.iter_mut() {
        if cleaned >= max_scale_down {
            break;
        }
        let unhealthy = (rs.spec_replicas - rs.available).max(0);
        if rs.spec_replicas == 0 || unhealthy == 0 {
            continue;
        }
        let n = unhealthy.min(max_scale_down - cleaned);
        rs.spec_replicas -= n;
        cleaned += n;
    }
    let available: i32 = old.iter().map(|r| r.available).sum::<i32>() + new_rs.available;
    if available > min_available {
        let mut budget = available - min_available;
        for rs in sets.iter_mut() {
            if budget == 0 {
                break;
            }
            let n = rs.spec_replicas.min(budget);
            rs.spec_replicas -= n;
            budget -= n;
        }
    }
    sets.into_iter()
        .filter_map(|rs| {
            let before = old.iter().find(|o| o.name == rs.name)?.spec_replicas;
            (rs.spec_replicas != before).then_some((rs.name, rs.spec_replicas))
        })
        .collect()
}

/// Whether `replicas` changed since the active sets were last sized (their desired-replicas
/// annotation disagrees), which calls for scaling rather than rolling.
pub fn is_scaling_event(replicas: i32, active: &[&RsView]) -> bool {
    active
        .iter()
        .any(|r| r.desired_annotation.is_some_and(|d| d != replicas))
}

/// Sizes for every active set after the Deployment was resized: a single active set takes the
/// whole count; a saturated new set lets the old ones go; mid-rollout, the change is spread
/// in proportion to each set's share, the rounding left-over going to the largest set.
pub fn proportional_targets(
    replicas: i32,
    bounds: Bounds,
    recreate: bool,
    new_rs: Option<&RsView>,
    old: &[RsView],
    status_replicas: i32,
) -> Vec<(String, i32)> {
    let mut all: Vec<&RsView> = old.iter().collect();
    if let Some(n) = new_rs {
        all.push(n);
    }
    let active: Vec<&RsView> = all
        .iter()
        .copied()
        .filter(|r| r.spec_replicas > 0)
        .collect();
    if active.len() <= 1 {
        let target = active
            .first()
            .copied()
            .or(new_rs)
            .or_else(|| old.iter().max_by(|a, b| oldest_first(a, b)));
        return target
            .map(|t| vec![(t.name.clone(), replicas)])
            .unwrap_or_default();
    }
    if let Some(n) = new_rs
        && n.spec_replicas == replicas
        && n.available >= replicas
    {
        return old
            .iter()
            .filter(|r| r.spec_replicas > 0)
            .map(|r| (r.name.clone(), 0))
            .collect();
    }
    if recreate {
        return Vec::new();
    }
    let allowed = if replicas > 0 {
        replicas + bounds.surge
    } else {
        0
    };
    let current: i32 = active.iter().map(|r| r.spec_replicas).sum();
    let to_add = allowed - current;
    let mut sorted = active.clone();
    sorted.sort_by(|a, b| {
        b.spec_replicas.cmp(&a.spec_replicas).then_with(|| {
            if to_add > 0 {
                oldest_first(b, a)
            } else {
                oldest_first(a, b)
            }
        })
    });
    let mut out: Vec<(String, i32)> = Vec::new();
    let mut added = 0;
    for rs in &sorted {
        let mut delta = 0;
        if to_add != 0 {
            let fraction = share(rs, replicas, bounds, status_replicas);
            let room = to_add - added;
            delta = if to_add > 0 {
                fraction.min(room)
            } else {
                fraction.max(room)
            };
            added += delta;
        }
        out.push((rs.name.clone(), rs.spec_replicas + delta));
    }
    if let Some(first) = out.first_mut()
        && to_add != 0
    {
        first.1 += to_add - added;
    }
    for o in out.iter_mut() {
        o.1 = o.1.max(0);
    }
    out
}

/// How much `rs` should grow (or shrink) so it keeps its share of the resized Deployment.
fn share(rs: &RsView, replicas: i32, bounds: Bounds, status_replicas: i32) -> i32 {
    if replicas == 0 {
        return -rs.spec_replicas;
    }
    let max_replicas = replicas + bounds.surge;
    let annotated = rs.max_annotation.unwrap_or(status_replicas);
    if annotated <= 0 {
        return 0;
    }
    let size =
        (f64::from(rs.spec_replicas) * f64::from(max_replicas) / f64::from(annotated)).round();
    // A size beyond i32 cannot happen for sane inputs; saturate rather than wrap.
    let size = if size > f64::from(i32::MAX) {
        i32::MAX
    } else {
        size as i32
    };
    size - rs.spec_replicas
}

fn oldest_first(a: &RsView, b: &RsView) -> Ordering {
    a.created.cmp(&b.created).then_with(|| a.name.cmp(&b.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::RollingUpdateDeployment;

    fn rolling(surge: IntOrString, unavailable: IntOrString) -> DeploymentStrategy {
        DeploymentStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(surge),
                max_unavailable: Some(unavailable),
            }),
        }
    }

    fn rs(name: &str, created: i64, spec: i32, available: i32) -> RsView {
        RsView {
            name: name.into(),
            spec_replicas: spec,
            status_replicas: spec,
            ready: available,
            available,
            created: Some(Timestamp::from_second(created).unwrap()),
            desired_annotation: None,
            max_annotation: None,
        }
    }

    #[test]
    fn default_bounds_are_a_quarter_rounded_outwards() {
        assert_eq!(
            bounds(None, 3).unwrap(),
            Bounds {
                surge: 1,
                unavailable: 0
            }
        );
        assert_eq!(bounds(None, 3).unwrap().surge, 1);
        assert_eq!(
            bounds(None, 10).unwrap(),
            Bounds {
                surge: 3,
                unavailable: 2
            }
        );
    }

    #[test]
    fn zero_surge_and_zero_unavailable_still_allow_one_pod_down() {
        let s = rolling(IntOrString::Int(0), IntOrString::String("0%".into()));
        assert_eq!(
            bounds(Some(&s), 5).unwrap(),
            Bounds {
                surge: 0,
                unavailable: 1
            }
        );
    }

    #[test]
    fn recreate_has_no_surge() {
        let s = DeploymentStrategy {
            type_: Some("Recreate".into()),
            rolling_update: None,
        };
        assert_eq!(
            bounds(Some(&s), 5).unwrap(),
            Bounds {
                surge: 0,
                unavailable: 0
            }
        );
    }

    #[test]
    fn malformed_percentages_are_rejected() {
        for bad in ["abc", "%", "-5%", "10"] {
            let s = rolling(IntOrString::String(bad.into()), IntOrString::Int(1));
            assert!(bounds(Some(&s), 5).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_new_set_grows_only_as_far_as_the_surge_allows() {
        let b = Bounds {
            surge: 1,
            unavailable: 0,
        };
        assert_eq!(new_rs_target(3, b, false, 0, 3), 1);
        assert_eq!(new_rs_target(3, b, false, 1, 4), 1);
        assert_eq!(new_rs_target(3, b, false, 1, 3), 2);
        assert_eq!(new_rs_target(3, b, false, 5, 5), 3);
        assert_eq!(new_rs_target(3, b, true, 0, 3), 3);
        assert_eq!(new_rs_target(3, b, false, 0, 0), 3);
    }

    #[test]
    fn unhealthy_old_pods_go_before_available_ones() {
        let b = Bounds {
            surge: 1,
            unavailable: 1,
        };
        let new = rs("new", 10, 1, 0);
        // Three old pods, one of them unavailable: it goes first, and the two available ones
        // are exactly the minimum, so they stay.
        let old = [rs("old", 1, 3, 2)];
        assert_eq!(
            old_rs_targets(3, b, &new, &old),
            vec![("old".to_string(), 2)]
        );
    }

    #[test]
    fn available_old_pods_wait_for_the_new_ones() {
        let b = Bounds {
            surge: 1,
            unavailable: 0,
        };
        let old = [rs("old", 1, 3, 3)];
        assert!(old_rs_targets(3, b, &rs("new", 10, 1, 0), &old).is_empty());
        assert_eq!(
            old_rs_targets(3, b, &rs("new", 10, 1, 1), &old),
            vec![("old".to_string(), 2)]
        );
    }

    #[test]
    fn the_oldest_set_shrinks_first() {
        let b = Bounds {
            surge: 0,
            unavailable: 2,
        };
        let old = [rs("mid", 5, 1, 1), rs("oldest", 1, 2, 2)];
        let t = old_rs_targets(3, b, &rs("new", 10, 0, 0), &old);
        assert_eq!(t, vec![("oldest".to_string(), 0)]);
    }

    #[test]
    fn a_resize_is_spread_over_the_active_sets() {
        let b = Bounds {
            surge: 3,
            unavailable: 2,
        };
        let mut old = rs("old", 1, 8, 8);
        old.max_annotation = Some(13);
        let mut new = rs("new", 5, 5, 0);
        new.max_annotation = Some(13);
        // 10 -> 20 replicas: allowed 23, current 13, ten to add in an 8:5 ratio.
        let t = proportional_targets(20, b, false, Some(&new), &[old], 13);
        let total: i32 = t.iter().map(|x| x.1).sum();
        assert_eq!(total, 23);
        let get = |n: &str| t.iter().find(|x| x.0 == n).map(|x| x.1);
        assert_eq!(get("old"), Some(14));
        assert_eq!(get("new"), Some(9));
    }

    #[test]
    fn a_single_active_set_takes_the_whole_count() {
        let b = Bounds {
            surge: 1,
            unavailable: 0,
        };
        let t = proportional_targets(
            5,
            b,
            false,
            Some(&rs("new", 5, 3, 3)),
            &[rs("old", 1, 0, 0)],
            3,
        );
        assert_eq!(t, vec![("new".to_string(), 5)]);
    }

    #[test]
    fn scaling_to_zero_empties_every_set() {
        let b = Bounds {
            surge: 0,
            unavailable: 0,
        };
        let t = proportional_targets(
            0,
            b,
            false,
            Some(&rs("new", 5, 2, 0)),
            &[rs("old", 1, 2, 2)],
            4,
        );
        assert!(t.iter().all(|x| x.1 == 0), "{t:?}");
    }

    #[test]
    fn a_stale_desired_annotation_is_a_scaling_event() {
        let mut a = rs("a", 1, 3, 3);
        assert!(!is_scaling_event(3, &[&a]));
        a.desired_annotation = Some(3);
        assert!(!is_scaling_event(3, &[&a]));
        assert!(is_scaling_event(5, &[&a]));
    }
}
