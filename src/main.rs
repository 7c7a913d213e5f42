fn main() {
    for (name, crd) in ecs_operator::crdgen::all() {
        let y = ecs_operator::crdgen::to_yaml(&crd);
        std::fs::create_dir_all("crds").unwrap();
        std::fs::write(format!("crds/{name}"), &y).unwrap();
        println!(
            "{name} {} bytes, json {}",
            y.len(),
            serde_json::to_string(&crd).unwrap().len()
        );
    }
}
