//! Activation-service steps (MAK and CSVLK budgets), judged in-process against the model.

use super::*;

impl<'t> Runner<'t> {
    pub(super) fn service_step(
        &mut self,
        s: &ServiceStep,
        st: &mut CaseState,
        f: &mut Findings,
    ) -> Result<(), String> {
        let cat = Catalog::get();
        let level = st.level;
        let sku_of = |p: &Option<String>| -> Result<(Uuid, Uuid), String> {
            let name = p.as_deref().ok_or("service op needs a product")?;
            if let Some(sku) = cat.sku_by_name(name) {
                return Ok((sku.id, sku.kms_id));
            }
            let kms = cat
                .kms_by_name(name)
                .ok_or_else(|| format!("unknown product {name:?}"))?;
            let sku = cat
                .skus()
                .iter()
                .find(|x| x.kms_id == kms.id)
                .map_or(Uuid::nil(), |x| x.id);
            Ok((sku, kms.id))
        };
        let machine = |st: &mut CaseState, label: &str, rng: &mut SplitMix64| -> Uuid {
            *st.machines
                .entry(label.to_string())
                .or_insert_with(|| rng.uuid())
        };
        let key = |st: &CaseState| {
            st.keys
                .get(&s.key)
                .copied()
                .ok_or_else(|| format!("unknown key {:?}", s.key))
        };
        let result: Result<(), crate::model::ServiceError> = match s.op.as_str() {
            "add_mak" => {
                let (_, group) = sku_of(&s.product)?;
                let h = st.service.add_mak(group, u64::from(s.count.unwrap_or(0)));
                st.keys.insert(s.key.clone(), h);
                Ok(())
            }
            "add_csvlk" => {
                let h = st.service.add_csvlk();
                st.keys.insert(s.key.clone(), h);
                Ok(())
            }
            "raise_limit" => {
                let h = key(st)?;
                st.service.raise(h, s.count.unwrap_or(0))
            }
            "activate" | "proxy" => {
                let h = key(st)?;
                let (sku, _) = sku_of(&s.product)?;
                let ms: Vec<Machine> = s
                    .machines
                    .iter()
                    .map(|l| Machine {
                        id: machine(st, l, &mut self.rng),
                        sku,
                        is_vm: s.vm,
                        was_kms_client: false,
                    })
                    .collect();
                if s.op == "proxy" {
                    st.service.activate_proxy(h, &ms).map(|_| ())
                } else {
                    ms.iter()
                        .try_for_each(|m| st.service.activate_mak(h, m).map(|_| ()))
                }
            }
            "activate_host" => {
                let h = key(st)?;
                let ids: Vec<Uuid> = s
                    .machines
                    .iter()
                    .map(|l| machine(st, l, &mut self.rng))
                    .collect();
                ids.iter()
                    .try_for_each(|id| st.service.activate_host(h, *id).map(|_| ()))
            }
            other => return Err(format!("unknown service op {other:?}")),
        };
        let got = match &result {
            Ok(()) => "ok".to_string(),
            Err(e) => e
                .hresult()
                .map_or_else(|| format!("{e:?}"), |h| format!("0x{h:08X}")),
        };
        let ok = if s.expect.eq_ignore_ascii_case("ok") {
            result.is_ok()
        } else if matches!(s.expect.as_str(), "refused" | "error") {
            result.is_err()
        } else {
            parse_hex_u32(&s.expect).is_some_and(|w| got == format!("0x{w:08X}"))
        };
        st.transcript
            .push(format!("-- service {} {}: {got}", s.op, s.key));
        f.check("service.result", None, level, ok, s.expect.clone(), got);
        if let Some(want) = s.remaining {
            let h = key(st)?;
            let left = st.service.mak_remaining(h);
            f.check(
                "service.remaining",
                Some("MAK-BUDGET"),
                level,
                left == Some(u64::from(want)),
                want.to_string(),
                format!("{left:?}"),
            );
        }
        Ok(())
    }
}
