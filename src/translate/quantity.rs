//! ECS sizes to canonical Kubernetes quantities: CPU units (1024 = 1 vCPU) to cores or
//! millicores, MiB to `Mi`/`Gi`, and the task-level strings ECS accepts ("1024", "1 vCPU", "2 GB").

/// CPU units (1024 per vCPU) as a Kubernetes quantity: whole cores when exact, else millicores
/// rounded up so a request is never smaller than ECS reserved.
pub fn cpu_units(units: i64) -> String {
    if units % 1024 == 0 {
        return (units / 1024).to_string();
    }
    // Saturating: a nonsense size from pasted input is refused by validation, never a panic.
    let milli = units.saturating_mul(1000).saturating_add(1023) / 1024;
    format!("{milli}m")
}

/// MiB as `Gi` when exact, else `Mi`.
pub fn mebibytes(mib: i64) -> String {
    if mib > 0 && mib % 1024 == 0 {
        format!("{}Gi", mib / 1024)
    } else {
        format!("{mib}Mi")
    }
}

/// GiB as `Gi`.
pub fn gibibytes(gib: i64) -> String {
    format!("{gib}Gi")
}

/// Task-level `cpu`: "256", "1024", "1 vCPU", "0.25 vcpu", "2vCPU". Returns CPU units.
pub fn parse_task_cpu(raw: &str) -> Result<i64, String> {
    let s = raw.trim().to_ascii_lowercase();
    if let Some(v) = s.strip_suffix("vcpu") {
        let vcpu: f64 = v
            .trim()
            .parse()
            .map_err(|_| format!("'{raw}' is not a number of vCPUs"))?;
        if !(vcpu.is_finite() && vcpu > 0.0) {
            return Err(format!("'{raw}' must be a positive number of vCPUs"));
        }
        return Ok((vcpu * 1024.0).round() as i64);
    }
    match s.parse::<i64>() {
        Ok(units) if units > 0 => Ok(units),
        _ => Err(format!(
            "'{raw}' is not CPU units (e.g. \"1024\") or vCPUs (e.g. \"1 vCPU\")"
        )),
    }
}

/// Task-level `memory`: "512", "2048", "2 GB", "2GB", "0.5 gb". Returns MiB (ECS's GB is GiB).
pub fn parse_task_memory(raw: &str) -> Result<i64, String> {
    let s = raw.trim().to_ascii_lowercase();
    if let Some(v) = s.strip_suffix("gb") {
        let gb: f64 = v
            .trim()
            .parse()
            .map_err(|_| format!("'{raw}' is not a number of GB"))?;
        if !(gb.is_finite() && gb > 0.0) {
            return Err(format!("'{raw}' must be a positive number of GB"));
        }
        return Ok((gb * 1024.0).round() as i64);
    }
    let s = s
        .strip_suffix("mib")
        .or_else(|| s.strip_suffix("mb"))
        .unwrap_or(&s)
        .trim();
    match s.parse::<i64>() {
        Ok(mib) if mib > 0 => Ok(mib),
        _ => Err(format!(
            "'{raw}' is not MiB (e.g. \"2048\") or GB (e.g. \"2 GB\")"
        )),
    }
}

/// The memory sizes Fargate allows for a CPU size, in MiB, or `None` for an unknown CPU size.
pub fn fargate_memory_options(cpu_units: i64) -> Option<Vec<i64>> {
    let gib = |from: i64, to: i64, step: i64| {
        (from..=to)
            .step_by(step as usize)
            .map(|g| g * 1024)
            .collect::<Vec<_>>()
    };
    Some(match cpu_units {
        256 => vec![512, 1024, 2048],
        512 => gib(1, 4, 1),
        1024 => gib(2, 8, 1),
        2048 => gib(4, 16, 1),
        4096 => gib(8, 30, 1),
        8192 => gib(16, 60, 4),
        16384 => gib(32, 120, 8),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_units_are_canonical_quantities() {
        assert_eq!(cpu_units(256), "250m");
        assert_eq!(cpu_units(512), "500m");
        assert_eq!(cpu_units(1024), "1");
        assert_eq!(cpu_units(2048), "2");
        assert_eq!(cpu_units(100), "98m");
        assert_eq!(cpu_units(1536), "1500m");
    }

    #[test]
    fn memory_is_mi_or_gi() {
        assert_eq!(mebibytes(512), "512Mi");
        assert_eq!(mebibytes(2048), "2Gi");
        assert_eq!(mebibytes(1536), "1536Mi");
    }

    #[test]
    fn task_sizes_accept_ecs_spellings() {
        assert_eq!(parse_task_cpu("1024"), Ok(1024));
        assert_eq!(parse_task_cpu("1 vCPU"), Ok(1024));
        assert_eq!(parse_task_cpu(".25 vcpu"), Ok(256));
        assert_eq!(parse_task_memory("2 GB"), Ok(2048));
        assert_eq!(parse_task_memory("2GB"), Ok(2048));
        assert_eq!(parse_task_memory("512"), Ok(512));
        assert!(parse_task_cpu("lots").is_err());
        assert!(parse_task_memory("-1").is_err());
        assert!(parse_task_cpu("0").is_err());
    }

    #[test]
    fn fargate_table_matches_ecs() {
        assert_eq!(fargate_memory_options(256), Some(vec![512, 1024, 2048]));
        assert!(fargate_memory_options(1024).unwrap().contains(&8192));
        assert!(!fargate_memory_options(256).unwrap().contains(&4096));
        assert_eq!(fargate_memory_options(300), None);
    }
}
