fn main() {
    println!("partner-center-operator: under construction");
}
